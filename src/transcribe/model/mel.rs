//! Whisper's mel filter bank, computed as `librosa.filters.mel(sr=16000, n_fft=400,
//! n_mels=N)` does (Slaney mel scale, Slaney area normalisation), in f64 and then rounded to
//! f32. whisper.cpp reads these numbers from the model file and uses them as they are.

/// Sample rate Whisper listens at.
const SAMPLE_RATE: f64 = 16_000.0;
/// FFT size of Whisper's front end (25 ms windows).
pub const N_FFT: usize = 400;

/// Hz to mels on the Slaney scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_mel = 1000.0 / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= 1000.0 {
        min_log_mel + (f / 1000.0).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_mel = 1000.0 / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        1000.0 * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// `n_mels` rows of `N_FFT / 2 + 1` weights, row-major.
pub fn filters(n_mels: usize) -> Vec<f32> {
    let bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins)
        .map(|i| i as f64 * (SAMPLE_RATE / 2.0) / (bins - 1) as f64)
        .collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = Vec::with_capacity(n_mels * bins);
    for i in 0..n_mels {
        let (f0, f1, f2) = (mel_f[i], mel_f[i + 1], mel_f[i + 2]);
        let norm = 2.0 / (f2 - f0);
        for &f in &fft_freqs {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            out.push((lower.min(upper).max(0.0) * norm) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bank_matches_librosa() {
        let m = filters(80);
        assert_eq!(m.len(), 80 * 201);
        assert!(m.iter().all(|w| w.is_finite() && *w >= 0.0));
        // Below 1 kHz the Slaney scale is linear: 1000 Hz is mel 15 of 0..=hz_to_mel(8000).
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((mel_to_hz(hz_to_mel(3456.0)) - 3456.0).abs() < 1e-9);
        let bin_hz = SAMPLE_RATE / N_FFT as f64;
        for row in 0..80 {
            let w = &m[row * 201..(row + 1) * 201];
            let support = w.iter().filter(|x| **x > 0.0).count();
            assert!(support > 0, "row {row} has weight");
            // Area normalisation: each triangle integrates to about 1 over Hz (exact for
            // the wide ones, where the bins sample the triangle finely).
            if support >= 10 {
                let area: f64 = w.iter().map(|x| f64::from(*x) * bin_hz).sum();
                assert!((area - 1.0).abs() < 0.05, "row {row}: area {area}");
            }
        }
        // Filters rise in frequency: each one's peak is at or above the previous one's.
        let peak = |row: usize| {
            let w = &m[row * 201..(row + 1) * 201];
            (0..201).max_by(|a, b| w[*a].total_cmp(&w[*b])).unwrap_or(0)
        };
        assert!((1..80).all(|r| peak(r) >= peak(r - 1)));
    }
}
