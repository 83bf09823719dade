import cv2
import numpy as np
import pytest

from pipeline.restore.quality import phase_shift, psnr


def fourier_shift(image, dx, dy):
    ky = np.fft.fftfreq(image.shape[0])[:, None]
    kx = np.fft.fftfreq(image.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(image) * np.exp(-2j * np.pi * (kx * dx + ky * dy))))


@pytest.mark.parametrize("shape", [(120, 160), (121, 157)])
@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, 0.0), (-0.07, 0.12), (1.4, -2.25)])
def test_phase_shift_recovers_subpixel_translations(portrait, shape, shift):
    grey = cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY).astype(np.float64)
    moved = fourier_shift(grey, *shift)
    window = (slice(150, 150 + shape[0]), slice(150, 150 + shape[1]))
    dx, dy = phase_shift(moved[window], grey[window])
    assert dx == pytest.approx(shift[0], abs=0.03) and dy == pytest.approx(shift[1], abs=0.03)


def test_phase_shift_is_not_fooled_by_bilinear_resampling(portrait):
    """A bilinear warp bends the phase at high frequencies; the estimate must stay unbiased."""
    frame = cv2.resize(portrait, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    moved = cv2.warpAffine(frame, np.float32([[1, 0, 0.3], [0, 1, -0.2]]), frame.shape[1::-1], flags=cv2.INTER_LINEAR)
    window = (slice(200, 451), slice(300, 523))
    dx, dy = phase_shift(moved[window], frame[window])
    assert dx == pytest.approx(0.3, abs=0.05) and dy == pytest.approx(-0.2, abs=0.05)


def test_phase_shift_validates():
    with pytest.raises(ValueError, match="one shape"):
        phase_shift(np.zeros((10, 10)), np.zeros((10, 12)))


def test_psnr():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 16
    where = np.ones((4, 4), bool)
    assert psnr(a, a, where) == float("inf")
    assert psnr(a, b, where) == pytest.approx(10 * np.log10(255.0**2 / (256 / 48)))
    where[0, 0] = False
    assert psnr(a, b, where) == float("inf")
