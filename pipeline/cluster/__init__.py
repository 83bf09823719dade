"""Rendering on a Ray cluster: lip-sync jobs on GPU hosts, everything else on the controller.

`host` (a host's own settings) and `transfer` (hash-verified chunks, the per-host cache) need no
Ray; `worker` (what runs on the hosts), `backend` (the controller's connection) and `executor`
(the render loop) import Ray, which is the optional extra `alpha-pipeline[ray]`.
"""
