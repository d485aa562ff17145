//! A built-in set of 28x28 digit images that needs no download.
//!
//! Each digit is drawn as the lit segments of a seven-segment display, with
//! anti-aliased strokes. Every image gets its own random jitter: position
//! (up to 3 pixels sideways and 2 up or down), size, slant, stroke
//! thickness and intensity (180..=255). The result is far easier than MNIST but has MNIST's shape
//! and roughly its brightness: about 13% of pixels at half intensity or more,
//! a mean pixel value near 0.12 * 255.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::ImageSet;

/// Side of the square images, as in MNIST.
const SIDE: usize = 28;

/// Pixels (bytes) of one generated image, 28 × 28 = 784.
pub const PIXELS: usize = SIDE * SIDE;

/// Bytes of the pixels of `n` generated images, `n ×` [`PIXELS`], or `None`
/// where that is more than a process can hold (`isize::MAX` bytes, 2^63 − 1).
pub fn pixel_bytes(n: usize) -> Option<usize> {
    n.checked_mul(PIXELS)
        .filter(|&bytes| isize::try_from(bytes).is_ok())
}

/// [`pixel_bytes`] of `n`, for the generators.
///
/// # Panics
/// If it is `None`, which a validated stimulus's `images` is not.
fn checked_pixel_bytes(n: usize) -> usize {
    pixel_bytes(n).expect("validated: stimulus.images × 784 pixels fits in memory")
}

/// The seven segments, as endpoints in a unit box: x in 0..=1 from left to
/// right, y in 0..=1 from top to bottom (0.5 is the middle bar).
/// Order: a (top), b (upper right), c (lower right), d (bottom),
/// e (lower left), f (upper left), g (middle).
const SEGMENTS: [[(f32, f32); 2]; 7] = [
    [(0.0, 0.0), (1.0, 0.0)],
    [(1.0, 0.0), (1.0, 0.5)],
    [(1.0, 0.5), (1.0, 1.0)],
    [(0.0, 1.0), (1.0, 1.0)],
    [(0.0, 0.5), (0.0, 1.0)],
    [(0.0, 0.0), (0.0, 0.5)],
    [(0.0, 0.5), (1.0, 0.5)],
];

/// Which segments each digit lights, one bit per segment of [`SEGMENTS`]
/// (bit 0 = a ... bit 6 = g), the usual seven-segment encoding.
const DIGIT_SEGMENTS: [u8; 10] = [
    0b011_1111, // 0: a b c d e f
    0b000_0110, // 1: b c
    0b101_1011, // 2: a b d e g
    0b100_1111, // 3: a b c d g
    0b110_0110, // 4: b c f g
    0b110_1101, // 5: a c d f g
    0b111_1101, // 6: a c d e f g
    0b000_0111, // 7: a b c
    0b111_1111, // 8: all
    0b110_1111, // 9: a b c d f g
];

/// `n` synthetic 28x28 digit images; image `k` shows digit `k % 10`.
///
/// The output is a function of `(n, seed)` only. Each image draws its jitter
/// from its own stream (the seed's Xoshiro256++ generator advanced by `k`
/// jumps of 2^128 steps), so image `k` is the same whatever `n` is: the first
/// 100 images of `synthetic_digits(1000, s)` equal `synthetic_digits(100, s)`.
///
/// # Panics
/// If [`pixel_bytes`] of `n` is `None`.
pub fn synthetic_digits(n: usize, seed: u64) -> ImageSet {
    let mut stream = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut pixels = vec![0u8; checked_pixel_bytes(n)];
    let mut labels = Vec::with_capacity(n);
    for (k, image) in pixels.chunks_exact_mut(PIXELS).enumerate() {
        let digit = (k % 10) as u8;
        let mut rng = stream.clone();
        stream.jump();
        draw_digit(digit, &mut rng, image);
        labels.push(digit);
    }
    // `chunks_exact_mut` yields nothing when n == 0.
    labels.resize(n, 0);
    ImageSet {
        name: "synthetic-digits".to_string(),
        rows: SIDE,
        cols: SIDE,
        pixels,
        labels,
    }
}

/// Sparse random 28x28 images, the peers' W1 input (`common.w1_images`):
/// each pixel is lit with probability 0.19, with an intensity uniform on
/// (0, 1] stored as 1..=255; labels are 0. A function of `(n, seed)` only.
///
/// # Panics
/// If [`pixel_bytes`] of `n` is `None`.
pub fn sparse_random(n: usize, seed: u64) -> ImageSet {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let pixels = (0..checked_pixel_bytes(n))
        .map(|_| {
            let lit = rng.random_bool(0.19);
            let level: u8 = rng.random_range(1..=255);
            if lit { level } else { 0 }
        })
        .collect();
    ImageSet {
        name: "sparse-random".to_string(),
        rows: SIDE,
        cols: SIDE,
        pixels,
        labels: vec![0; n],
    }
}

/// Draws `digit` with random jitter into a blank 28x28 `image`.
fn draw_digit(digit: u8, rng: &mut Xoshiro256PlusPlus, image: &mut [u8]) {
    // Every image draws the same number of values in the same order.
    let width: f32 = rng.random_range(9.0..12.0);
    let height: f32 = rng.random_range(16.0..19.0);
    let dx: f32 = rng.random_range(-3.0..3.0);
    let dy: f32 = rng.random_range(-2.0..2.0);
    // Horizontal shift per pixel of height above the centre (italic lean).
    let slant: f32 = rng.random_range(-0.15..0.2);
    // Half the stroke width: strokes are 1.8 to 2.8 pixels wide.
    let half_width: f32 = rng.random_range(0.9..1.4);
    let intensity: u8 = rng.random_range(180..=255);

    let (cx, cy) = (SIDE as f32 / 2.0 + dx, SIDE as f32 / 2.0 + dy);
    // Map unit-box coordinates to pixel coordinates. A "1" is drawn as a
    // single centred bar, the way it is handwritten, not at the right edge.
    let to_pixels = |(u, v): (f32, f32)| {
        let u = if digit == 1 { 0.5 } else { u };
        let y = cy + (v - 0.5) * height;
        let x = cx + (u - 0.5) * width + slant * (cy - y);
        (x, y)
    };
    let strokes: Vec<[(f32, f32); 2]> = SEGMENTS
        .iter()
        .enumerate()
        .filter(|(s, _)| DIGIT_SEGMENTS[digit as usize] & (1 << s) != 0)
        .map(|(_, [p, q])| [to_pixels(*p), to_pixels(*q)])
        .collect();

    for (row, line) in image.chunks_exact_mut(SIDE).enumerate() {
        for (col, pixel) in line.iter_mut().enumerate() {
            let centre = (col as f32 + 0.5, row as f32 + 0.5);
            let dist = strokes
                .iter()
                .map(|&[p, q]| distance_to_segment(centre, p, q))
                .fold(f32::INFINITY, f32::min);
            // Coverage falls linearly from 1 to 0 over the pixel straddling
            // the stroke's edge.
            let coverage = (half_width + 0.5 - dist).clamp(0.0, 1.0);
            *pixel = (coverage * intensity as f32).round() as u8;
        }
    }
}

/// Euclidean distance from point `p` to the line segment `a`-`b`.
fn distance_to_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let (apx, apy) = (p.0 - a.0, p.1 - a.1);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        ((apx * abx + apy * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (apx - t * abx, apy - t * aby);
    (ex * ex + ey * ey).sqrt()
}

#[cfg(test)]
mod sparse_tests {
    use super::*;

    #[test]
    fn sparse_random_statistics() {
        // 1000 images × 784 pixels = 784 000 pixels, lit with p = 0.19:
        // sd of the lit fraction sqrt(0.19·0.81/784000) = 0.00044, 4 sd = 0.0018.
        // Lit levels uniform on 1..=255: mean 128, sd 73.6, se 73.6/sqrt(148960) = 0.19.
        let set = sparse_random(1000, 3);
        let lit: Vec<f64> = set
            .pixels
            .iter()
            .filter(|&&p| p > 0)
            .map(|&p| p as f64)
            .collect();
        let frac = lit.len() as f64 / set.pixels.len() as f64;
        assert!((frac - 0.19).abs() < 0.0018, "{frac}");
        let mean = lit.iter().sum::<f64>() / lit.len() as f64;
        assert!((mean - 128.0).abs() < 4.0 * 0.19 * 1.1, "{mean}");
        assert_eq!(set.pixels, sparse_random(1000, 3).pixels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fraction of pixels at half intensity or more (>= 128), and the mean
    /// pixel value divided by 255.
    fn brightness(set: &ImageSet) -> (f64, f64) {
        let total = set.pixels.len() as f64;
        let lit = set.pixels.iter().filter(|&&p| p >= 128).count() as f64;
        let sum: u64 = set.pixels.iter().map(|&p| p as u64).sum();
        (lit / total, sum as f64 / 255.0 / total)
    }

    #[test]
    fn shape_name_and_cycling_labels() {
        let set = synthetic_digits(25, 1);
        assert_eq!(set.name, "synthetic-digits");
        assert_eq!((set.len(), set.rows, set.cols), (25, 28, 28));
        assert_eq!(set.pixels.len(), 25 * 784);
        // Label of image k is k % 10: 0..9, 0..9, 0..4.
        let expected: Vec<u8> = (0..25).map(|k| (k % 10) as u8).collect();
        assert_eq!(set.labels, expected);
        let empty = synthetic_digits(0, 1);
        assert!(empty.is_empty());
        assert!(empty.pixels.is_empty());
    }

    #[test]
    fn deterministic_per_seed() {
        let a = synthetic_digits(200, 42);
        let b = synthetic_digits(200, 42);
        assert_eq!(a.pixels, b.pixels);
        assert_eq!(a.labels, b.labels);
        // Image k does not depend on n: a shorter set is a prefix.
        let short = synthetic_digits(30, 42);
        assert_eq!(short.pixels[..], a.pixels[..30 * 784]);
    }

    #[test]
    fn different_seeds_differ() {
        let a = synthetic_digits(50, 1);
        let b = synthetic_digits(50, 2);
        // Every image differs: the jitter is continuous, so two streams
        // giving the same picture is practically impossible.
        for k in 0..50 {
            assert_ne!(a.image(k), b.image(k), "image {k}");
        }
        // Images of the same digit within one set differ too (10 and 20 are 0s).
        assert_ne!(a.image(10), a.image(20));
    }

    #[test]
    fn brightness_resembles_mnist() {
        // MNIST training set, computed with python: 13.2% of pixels >= 128,
        // 19.1% non-zero, mean 0.1307 * 255. Here the stated range is
        // 10..20% lit (>= 128) and a mean within 0.08..0.20 * 255.
        let set = synthetic_digits(1000, 7);
        let (lit, mean) = brightness(&set);
        assert!((0.10..=0.20).contains(&lit), "lit fraction {lit}");
        assert!((0.08..=0.20).contains(&mean), "mean {mean}");
        // Every digit class, alone, stays visible and not saturated:
        // the sparsest (1, two segments) and densest (8, seven) included.
        for digit in 0..10 {
            let images: Vec<u8> = (0..set.len())
                .filter(|&k| set.labels[k] == digit)
                .flat_map(|k| set.image(k).to_vec())
                .collect();
            let lit = images.iter().filter(|&&p| p >= 128).count() as f64 / images.len() as f64;
            assert!((0.03..=0.30).contains(&lit), "digit {digit}: lit {lit}");
        }
    }

    #[test]
    fn intensity_and_borders() {
        let set = synthetic_digits(300, 3);
        for k in 0..set.len() {
            let img = set.image(k);
            // The brightest pixel of each image is the stroke intensity,
            // drawn from 180..=255 (stroke centres are fully covered).
            let max = *img.iter().max().unwrap();
            assert!((180..=255).contains(&max), "image {k}: max {max}");
            // The digit stays inside the frame: the outermost ring is dark.
            // Vertically: centre 14 +- 2 offset +- 9.5 half-height keeps the
            // stroke centre lines within y = 2.5..=25.5, and ink reaches at
            // most 1.4 half-stroke + 0.5 anti-aliasing = 1.9 beyond them, so
            // not the centres of rows 0 and 27 (y = 0.5 and 27.5, 2.0 away).
            // Sideways: 14 +- (3 offset + 6 half-width + 0.2 * 9.5 slant)
            // = 3.1..=24.9, plus 1.9 of ink, leaves columns 0 and 27 dark.
            for i in 0..SIDE {
                for (r, c) in [(0, i), (SIDE - 1, i), (i, 0), (i, SIDE - 1)] {
                    assert_eq!(img[r * SIDE + c], 0, "image {k} pixel ({r}, {c})");
                }
            }
        }
    }

    #[test]
    fn distance_to_segment_cases() {
        // Perpendicular foot inside the segment: distance 3.
        assert_eq!(distance_to_segment((2.0, 3.0), (0.0, 0.0), (4.0, 0.0)), 3.0);
        // Beyond the end: distance to the endpoint (4,0) from (7,4) = 5.
        assert_eq!(distance_to_segment((7.0, 4.0), (0.0, 0.0), (4.0, 0.0)), 5.0);
        // Degenerate segment: distance to the point, 3-4-5 triangle again.
        assert_eq!(distance_to_segment((3.0, 4.0), (0.0, 0.0), (0.0, 0.0)), 5.0);
    }
}
