//! Labelled image datasets used as stimuli.
//!
//! Two sources feed the input layer:
//! - [`idx`]: the IDX files of MNIST and look-alikes (Fashion-MNIST, the small
//!   8x8 digits set), gzip-compressed or raw. See `datasets/README.md` for how
//!   to get them; the repository itself never holds data.
//! - [`synthetic`]: a built-in set of seven-segment digits that needs no
//!   download, for smoke tests and for machines without the real data.
//!
//! Both produce an [`ImageSet`]: 8-bit grayscale images stored row-major, one
//! after another, with one label per image. Pixel values are stored as they
//! are in the file; MNIST uses 0..=255, while the 8x8 digits set uses 0..=16.

use std::path::PathBuf;

pub mod idx;
pub mod synthetic;

pub use idx::{load_idx_pair, load_split};
pub use synthetic::{sparse_random, synthetic_digits};

/// A set of labelled grayscale images, pixel values 0..=255, row-major.
///
/// Image `k` occupies `pixels[k * rows * cols .. (k + 1) * rows * cols]`, and
/// its pixel at row `r`, column `c` is at offset `r * cols + c` within that
/// slice. `labels[k]` is its class.
#[derive(Debug, Clone, Default)]
pub struct ImageSet {
    /// Where the set came from, for logs and output files, e.g. `"mnist/train"`.
    pub name: String,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// All pixels of all images, `len() * rows * cols` bytes.
    pub pixels: Vec<u8>,
    /// One class label per image.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Number of images (equal to the number of labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The largest pixel value of the set (at least 1): the value that maps
    /// to intensity 1 (255 for MNIST, 16 for digits8x8). Scans every pixel.
    pub fn max_pixel(&self) -> u8 {
        self.pixels.iter().copied().max().unwrap_or(0).max(1)
    }

    /// Pixels in one image: `rows * cols`.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `k`, row-major, `rows * cols` bytes.
    ///
    /// # Panics
    /// Panics if `k >= self.len()`.
    pub fn image(&self, k: usize) -> &[u8] {
        assert!(
            k < self.len(),
            "image index {k} out of range: {} holds {} images",
            self.name,
            self.len()
        );
        let n = self.pixels_per_image();
        &self.pixels[k * n..(k + 1) * n]
    }
}

/// Why a dataset could not be loaded.
///
/// Every message is one line that names the file and says what was expected,
/// so that the binary can print it as it is.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file does not exist. With `or_gz` set, the `.gz` variant of the
    /// name was looked for too (the message then shows the name as `...(.gz)`).
    #[error(
        "dataset file not found: {}{} (run datasets/fetch-mnist.sh, or set stimulus.dataset = \"synthetic\")",
        .path.display(),
        if *.or_gz { "(.gz)" } else { "" }
    )]
    NotFound {
        /// The path looked for (without the `.gz` suffix when `or_gz`).
        path: PathBuf,
        /// Whether `path` with `.gz` appended was looked for as well.
        or_gz: bool,
    },

    /// One file of an IDX split is there and the other is not (looked for
    /// raw and with `.gz`).
    #[error(
        "dataset file not found: {}(.gz), though {} is there (a split needs its images and its labels file; run datasets/fetch-mnist.sh)",
        .missing.display(),
        .present.display()
    )]
    Incomplete {
        /// The file looked for (without the `.gz` suffix).
        missing: PathBuf,
        /// The other file of the split, which exists.
        present: PathBuf,
    },

    /// The file exists but could not be read.
    #[error("{}: cannot read dataset file: {source}", .path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("{}: corrupt gzip data: {source}", .path.display())]
    Gzip {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The file (after decompression) is shorter than its IDX header.
    #[error(
        "{}: truncated: an IDX {what} file needs a {needed}-byte header but the file holds {actual} bytes",
        .path.display()
    )]
    ShortHeader {
        /// The file that failed.
        path: PathBuf,
        /// `"images"` or `"labels"`.
        what: &'static str,
        /// Header size in bytes for this kind of file.
        needed: usize,
        /// Bytes the file holds (after decompression).
        actual: usize,
    },

    /// The first four bytes are not the expected IDX magic number.
    #[error(
        "{}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} (IDX unsigned-byte {what})",
        .path.display()
    )]
    WrongMagic {
        /// The file that failed.
        path: PathBuf,
        /// The magic number in the file.
        found: u32,
        /// The magic number for this kind of file.
        expected: u32,
        /// `"images"` or `"labels"`.
        what: &'static str,
    },

    /// The header declares images of zero rows or zero columns.
    #[error(
        "{}: images of {rows}x{cols} pixels, expected at least one row and one column",
        .path.display()
    )]
    EmptyImages {
        /// The file that failed.
        path: PathBuf,
        /// Rows declared in the header.
        rows: usize,
        /// Columns declared in the header.
        cols: usize,
    },

    /// The data after the header is shorter than the header declares.
    #[error(
        "{}: truncated: header says {declared} ({expected} bytes) but file holds {actual} bytes after the {header}-byte header",
        .path.display()
    )]
    Truncated {
        /// The file that failed.
        path: PathBuf,
        /// What the header declares, e.g. `"60000 images of 28x28"`.
        declared: String,
        /// Data bytes the header declares.
        expected: u128,
        /// Data bytes the file holds after the header.
        actual: usize,
        /// Header size in bytes.
        header: usize,
    },

    /// The data after the header is longer than the header declares.
    #[error(
        "{}: trailing bytes: header says {declared} ({expected} bytes) but file holds {actual} bytes after the {header}-byte header",
        .path.display()
    )]
    TrailingBytes {
        /// The file that failed.
        path: PathBuf,
        /// What the header declares, e.g. `"60000 images of 28x28"`.
        declared: String,
        /// Data bytes the header declares.
        expected: u128,
        /// Data bytes the file holds after the header.
        actual: usize,
        /// Header size in bytes.
        header: usize,
    },

    /// The image file and the label file disagree on the number of samples.
    #[error(
        "{}: {images} images but {} holds {labels} labels",
        .images_path.display(),
        .labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// Images in the image file.
        images: usize,
        /// Labels in the label file.
        labels: usize,
    },
}
