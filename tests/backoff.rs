//! `LegacyBackoff`: botocore's legacy full-jitter delays.
#![cfg(feature = "retry")]

use std::time::Duration;

use tower_sagemaker::retry::LegacyBackoff;

#[test]
fn ceilings_double_without_cap() {
    let b = LegacyBackoff::new();
    assert_eq!(b.ceiling(0), Duration::ZERO);
    assert_eq!(b.ceiling(1), Duration::from_secs(1));
    assert_eq!(b.ceiling(2), Duration::from_secs(2));
    assert_eq!(b.ceiling(5), Duration::from_secs(16));
    assert_eq!(b.ceiling(20), Duration::from_secs(1 << 19));
    assert_eq!(b.ceiling(200), Duration::MAX);
    assert_eq!(b.ceiling(u32::MAX), Duration::MAX);
}

#[test]
fn base_and_cap() {
    let b = LegacyBackoff::new()
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(350));
    assert_eq!(b.ceiling(1), Duration::from_millis(100));
    assert_eq!(b.ceiling(2), Duration::from_millis(200));
    assert_eq!(b.ceiling(3), Duration::from_millis(350));
    assert_eq!(b.ceiling(64), Duration::from_millis(350));
}

#[test]
fn delay_at_is_scaled_and_clamped() {
    let b = LegacyBackoff::new();
    assert_eq!(b.delay_at(2, 0.0), Duration::ZERO);
    assert_eq!(b.delay_at(2, 0.25), Duration::from_millis(500));
    assert_eq!(
        b.delay_at(2, 7.0),
        Duration::from_secs(2) - Duration::from_nanos(1)
    );
    assert_eq!(b.delay_at(2, -1.0), Duration::ZERO);
    assert_eq!(b.delay_at(2, f64::NAN), Duration::ZERO);
    // Saturated ceilings never panic.
    let _ = b.delay_at(u32::MAX, 0.999);
}

#[test]
fn random_delays_stay_below_the_ceiling_and_spread() {
    let b = LegacyBackoff::new();
    for k in 1..=6 {
        let ceiling = b.ceiling(k);
        let samples: Vec<_> = (0..2000).map(|_| b.delay(k)).collect();
        assert!(samples.iter().all(|d| *d < ceiling), "retry {k}");
        let lower = samples.iter().filter(|d| **d < ceiling / 2).count();
        // A fair uniform draw puts about half below the midpoint.
        assert!(
            (800..1200).contains(&lower),
            "retry {k}: {lower} of 2000 below mid"
        );
        let max = samples.iter().max().unwrap();
        let min = samples.iter().min().unwrap();
        assert!(
            *max > ceiling * 9 / 10 && *min < ceiling / 10,
            "retry {k}: not spread"
        );
    }
}

#[test]
fn scale_out_pacing_is_10_to_30_s() {
    let pacing = LegacyBackoff::scale_out();
    assert_eq!(pacing.get_min_delay(), Duration::from_secs(10));
    assert_eq!(pacing.ceiling(1), Duration::from_secs(20));
    assert_eq!(pacing.ceiling(2), Duration::from_secs(30));
    assert_eq!(pacing.ceiling(40), Duration::from_secs(30));
    for retry in 1..50 {
        assert_eq!(pacing.delay_at(retry, 0.0), Duration::from_secs(10));
        assert!(pacing.delay_at(retry, 1.0) < pacing.ceiling(retry));
        let d = pacing.delay(retry);
        assert!(
            d >= Duration::from_secs(10) && d < pacing.ceiling(retry),
            "{d:?}"
        );
    }
    // Uniform between floor and ceiling.
    assert_eq!(pacing.delay_at(2, 0.5), Duration::from_secs(20));
}

#[test]
fn a_floor_above_the_ceiling_is_the_delay_and_no_floor_is_botocores() {
    let b = LegacyBackoff::new().min_delay(Duration::from_secs(5));
    assert_eq!(b.delay_at(1, 0.7), Duration::from_secs(5));
    assert_eq!(b.delay_at(4, 0.0), Duration::from_secs(5));
    assert_eq!(b.delay_at(4, 0.5), Duration::from_millis(6500));
    let legacy = LegacyBackoff::new();
    assert_eq!(legacy.get_min_delay(), Duration::ZERO);
    assert_eq!(legacy.delay_at(3, 0.25), Duration::from_secs(1));
    assert_eq!(legacy.delay_at(0, 0.5), Duration::ZERO);
}
