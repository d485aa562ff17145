//! Reader for IDX files, the format of MNIST and its look-alikes.
//!
//! An IDX file is a big-endian header followed by the data:
//! - images: magic `0x00000803` (unsigned bytes, 3 dimensions), then the
//!   image count, rows and columns as `u32`, then `count * rows * cols` pixel
//!   bytes, image after image, row-major;
//! - labels: magic `0x00000801` (unsigned bytes, 1 dimension), then the label
//!   count as `u32`, then one byte per label.
//!
//! Files may be gzip-compressed or raw. Compression is detected from the
//! gzip magic bytes `1f 8b` at the start of the file, never from the file name.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::{DataError, ImageSet};

/// Magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Loads one split of an MNIST-style dataset from `dir`.
///
/// Looks for `{dir}/{split}-images-idx3-ubyte`, then the same name with
/// `.gz` appended, and likewise for `{split}-labels-idx1-ubyte`. For MNIST
/// and Fashion-MNIST the splits are `"train"` and `"t10k"`. The set is named
/// `"{basename of dir}/{split}"`, e.g. `"mnist/train"`.
///
/// # Errors
/// [`DataError::NotFound`] (of the images file) when neither file exists,
/// [`DataError::Incomplete`] when only one of them does, and any error of
/// [`load_idx_pair`].
pub fn load_split(dir: &Path, split: &str) -> Result<ImageSet, DataError> {
    let images = find_file(dir, &format!("{split}-images-idx3-ubyte"));
    let labels = find_file(dir, &format!("{split}-labels-idx1-ubyte"));
    let (images, labels) = match (images, labels) {
        (Ok(i), Ok(l)) => (i, l),
        (Err(e), Err(_)) => return Err(e),
        (Ok(present), Err(DataError::NotFound { path, .. }))
        | (Err(DataError::NotFound { path, .. }), Ok(present)) => {
            return Err(DataError::Incomplete {
                missing: path,
                present,
            });
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let name = format!("{}/{split}", dir_basename(dir));
    load_idx_pair(&images, &labels, &name)
}

/// The files [`load_split`] reads for `split` in `dir` (images, then
/// labels), as far as they exist: for each, the raw name if present, else
/// the `.gz` one.
pub fn split_files(dir: &Path, split: &str) -> Vec<PathBuf> {
    [
        format!("{split}-images-idx3-ubyte"),
        format!("{split}-labels-idx1-ubyte"),
    ]
    .iter()
    .filter_map(|name| find_file(dir, name).ok())
    .collect()
}

/// Loads an image file and its label file, each gzip-compressed or raw.
///
/// # Errors
/// A [`DataError`] when a file is missing or unreadable, is corrupt gzip, has
/// the wrong magic number, is shorter or longer than its header declares,
/// declares images of zero rows or columns, or when the two files disagree on
/// the number of samples.
pub fn load_idx_pair(images: &Path, labels: &Path, name: &str) -> Result<ImageSet, DataError> {
    let (dims, pixels) = read_idx(images, Kind::Images)?;
    let (n_images, rows, cols) = (dims[0], dims[1], dims[2]);
    let (label_dims, label_bytes) = read_idx(labels, Kind::Labels)?;
    let n_labels = label_dims[0];
    if n_images != n_labels {
        return Err(DataError::CountMismatch {
            images_path: images.to_path_buf(),
            labels_path: labels.to_path_buf(),
            images: n_images,
            labels: n_labels,
        });
    }
    Ok(ImageSet {
        name: name.to_string(),
        rows,
        cols,
        pixels,
        labels: label_bytes,
    })
}

/// The two kinds of IDX file this reader accepts.
#[derive(Clone, Copy)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }

    fn ndims(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }
}

/// Returns `dir/name` if it exists, else `dir/name.gz` if that exists.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let raw = dir.join(name);
    if raw.exists() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.exists() {
        return Ok(gz);
    }
    Err(DataError::NotFound {
        path: raw,
        or_gz: true,
    })
}

/// The last component of `dir`, resolving `.` and the like where possible.
fn dir_basename(dir: &Path) -> String {
    if let Some(base) = dir.file_name() {
        return base.to_string_lossy().into_owned();
    }
    match dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|b| b.to_owned()))
    {
        Some(base) => base.to_string_lossy().into_owned(),
        None => dir.display().to_string(),
    }
}

/// Reads a whole file, decompressing it when it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DataError::NotFound {
            path: path.to_path_buf(),
            or_gz: false,
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    // A gzip stream compresses IDX data about 5:1; start with room for that.
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(5));
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

/// Reads and checks one IDX file. Returns its dimensions (count first) and
/// the data that follows the header, whose length matches the dimensions.
fn read_idx(path: &Path, kind: Kind) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let mut bytes = read_maybe_gz(path)?;
    let header = 4 + 4 * kind.ndims();
    let short = |needed| DataError::ShortHeader {
        path: path.to_path_buf(),
        what: kind.what(),
        needed,
        actual: bytes.len(),
    };
    if bytes.len() < 4 {
        return Err(short(header));
    }
    let magic = be_u32(&bytes, 0);
    if magic != kind.magic() {
        return Err(DataError::WrongMagic {
            path: path.to_path_buf(),
            found: magic,
            expected: kind.magic(),
            what: kind.what(),
        });
    }
    if bytes.len() < header {
        return Err(short(header));
    }
    let dims: Vec<usize> = (0..kind.ndims())
        .map(|d| be_u32(&bytes, 4 + 4 * d) as usize)
        .collect();
    let declared = match kind {
        Kind::Images => {
            let (rows, cols) = (dims[1], dims[2]);
            if rows == 0 || cols == 0 {
                return Err(DataError::EmptyImages {
                    path: path.to_path_buf(),
                    rows,
                    cols,
                });
            }
            format!("{} images of {rows}x{cols}", dims[0])
        }
        Kind::Labels => format!("{} labels", dims[0]),
    };
    // Three u32 factors can overflow u64, never u128.
    let expected: u128 = dims.iter().map(|&d| d as u128).product();
    let actual = bytes.len() - header;
    if (actual as u128) != expected {
        let (path, header) = (path.to_path_buf(), header);
        return Err(if (actual as u128) < expected {
            DataError::Truncated {
                path,
                declared,
                expected,
                actual,
                header,
            }
        } else {
            DataError::TrailingBytes {
                path,
                declared,
                expected,
                actual,
                header,
            }
        });
    }
    // Shift the data to the front in place rather than copying it out.
    bytes.drain(..header);
    Ok((dims, bytes))
}

/// The big-endian `u32` at `bytes[at..at + 4]`.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// The shared, read-only copies of the datasets: `../shared/datasets`
    /// next to the crate root (`/work/shared/datasets` for `/work/main`).
    fn shared_datasets() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets")
    }

    /// A fresh, empty directory under the system temp dir, unique to this
    /// process and test.
    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "spikesim-data-{test}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn histogram(labels: &[u8]) -> [usize; 10] {
        let mut h = [0; 10];
        for &l in labels {
            h[l as usize] += 1;
        }
        h
    }

    fn pixel_sum(set: &ImageSet) -> u64 {
        set.pixels.iter().map(|&p| p as u64).sum()
    }

    /// A well-formed IDX images file, uncompressed.
    fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for word in [IMAGES_MAGIC, n, rows, cols] {
            v.extend_from_slice(&word.to_be_bytes());
        }
        v.extend_from_slice(pixels);
        v
    }

    /// A well-formed IDX labels file, uncompressed.
    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// Three 2x3 images whose pixels are 0, 1, ..., 17, with labels 7, 8, 9.
    fn tiny_pair() -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..18).collect();
        (idx_images(3, 2, 3, &pixels), idx_labels(&[7, 8, 9]))
    }

    #[test]
    fn mnist_train_loads_with_known_counts() {
        let set = load_split(&shared_datasets().join("mnist"), "train").unwrap();
        // 60000 images of 28x28, the published size of the MNIST training set.
        assert_eq!(set.name, "mnist/train");
        assert_eq!((set.len(), set.rows, set.cols), (60000, 28, 28));
        assert_eq!(set.pixels_per_image(), 784);
        assert_eq!(set.pixels.len(), 60000 * 784); // 47,040,000 bytes
        // The first training labels are 5 0 4 1 9 2 1 3 1 4 (PROVENANCE.md,
        // and python: gzip.open(...).read()[8:18]).
        assert_eq!(set.labels[0], 5);
        assert_eq!(&set.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        // Per-class counts, the published MNIST training histogram, recomputed
        // from the file with python's collections.Counter over bytes 8.. of
        // the decompressed labels; they sum to 60000.
        assert_eq!(
            histogram(&set.labels),
            [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
        );
        // Pixel checksums, from python over bytes 16.. of the decompressed
        // images: all pixels sum to 1,567,298,545 (mean/255 = 0.1307, the
        // well-known MNIST normalisation mean), and the first image (a 5)
        // sums to 27,525.
        assert_eq!(pixel_sum(&set), 1_567_298_545);
        assert_eq!(set.image(0).iter().map(|&p| p as u64).sum::<u64>(), 27_525);
        assert_eq!(*set.pixels.iter().max().unwrap(), 255);
    }

    #[test]
    fn mnist_t10k_loads_with_known_counts() {
        let set = load_split(&shared_datasets().join("mnist"), "t10k").unwrap();
        // 10000 test images of 28x28.
        assert_eq!(set.name, "mnist/t10k");
        assert_eq!((set.len(), set.rows, set.cols), (10000, 28, 28));
        // First test labels 7 2 1 0 4 1 4 9 5 9 and the published per-class
        // test counts (sum 10000), both recomputed with python as above.
        assert_eq!(&set.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
        assert_eq!(
            histogram(&set.labels),
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        // Sum of all 7,840,000 test pixels, from python.
        assert_eq!(pixel_sum(&set), 264_923_200);
    }

    #[test]
    fn fashion_mnist_loads() {
        let dir = shared_datasets().join("fashion-mnist");
        let train = load_split(&dir, "train").unwrap();
        let test = load_split(&dir, "t10k").unwrap();
        // Same shapes as MNIST: 60000 + 10000 images of 28x28.
        assert_eq!(train.name, "fashion-mnist/train");
        assert_eq!((train.len(), train.rows, train.cols), (60000, 28, 28));
        assert_eq!((test.len(), test.rows, test.cols), (10000, 28, 28));
        // Balanced classes: 6000 per class in train, 1000 in test
        // (PROVENANCE.md, confirmed with python).
        assert_eq!(histogram(&train.labels), [6000; 10]);
        assert_eq!(histogram(&test.labels), [1000; 10]);
        // First training labels 9 0 0 3 0 2 7 2 5 5 (an ankle boot first).
        assert_eq!(&train.labels[..10], &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    }

    #[test]
    fn digits8x8_loads() {
        let set = load_split(&shared_datasets().join("digits8x8"), "digits").unwrap();
        // PROVENANCE.md: 1797 images of 8x8, pixels 0..=16 (not 0..=255),
        // labels in order 0 1 2 ... 9 at the start, per-class counts
        // 178/182/177/183/181/182/181/179/174/180 (sum 1797).
        assert_eq!(set.name, "digits8x8/digits");
        assert_eq!((set.len(), set.rows, set.cols), (1797, 8, 8));
        assert_eq!(set.pixels.len(), 1797 * 64);
        assert_eq!(&set.labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(
            histogram(&set.labels),
            [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        assert_eq!(*set.pixels.iter().max().unwrap(), 16);
        // Pixel sum from python: 561,718 (mean/255 = 0.01915 as PROVENANCE
        // reports: 561718 / 115008 / 255 = 0.019154).
        assert_eq!(pixel_sum(&set), 561_718);
    }

    #[test]
    fn raw_file_loads_the_same_as_gzip() {
        // The real t10k files, decompressed into a temp dir: the raw files
        // must give exactly what the .gz files give.
        let src = shared_datasets().join("mnist");
        let dir = temp_dir("raw");
        for stem in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            let gz = fs::read(src.join(format!("{stem}.gz"))).unwrap();
            let mut raw = Vec::new();
            MultiGzDecoder::new(gz.as_slice())
                .read_to_end(&mut raw)
                .unwrap();
            fs::write(dir.join(stem), raw).unwrap();
        }
        let from_gz = load_split(&src, "t10k").unwrap();
        let from_raw = load_split(&dir, "t10k").unwrap();
        assert_eq!((from_raw.rows, from_raw.cols), (28, 28));
        assert_eq!(from_raw.pixels, from_gz.pixels);
        assert_eq!(from_raw.labels, from_gz.labels);

        // Compression is detected from the content, not the name: gzip data
        // in a file without .gz and raw data in a file ending in .gz.
        let (images, labels) = tiny_pair();
        fs::write(dir.join("a-images"), gzip(&images)).unwrap();
        fs::write(dir.join("a-labels.gz"), &labels).unwrap();
        let set = load_idx_pair(&dir.join("a-images"), &dir.join("a-labels.gz"), "tiny").unwrap();
        assert_eq!(set.name, "tiny");
        assert_eq!((set.len(), set.rows, set.cols), (3, 2, 3));
        // Image 1 holds pixels 6..=11 of the sequence 0..18.
        assert_eq!(set.image(1), &[6, 7, 8, 9, 10, 11]);
        assert_eq!(set.labels, vec![7, 8, 9]);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn load_split_prefers_raw_over_gz() {
        // Both names present: the raw one is read. The .gz decoy holds two
        // labels less, so reading it would fail with a count mismatch.
        let dir = temp_dir("prefer");
        let (images, labels) = tiny_pair();
        fs::write(dir.join("s-images-idx3-ubyte"), &images).unwrap();
        fs::write(dir.join("s-labels-idx1-ubyte"), &labels).unwrap();
        fs::write(dir.join("s-labels-idx1-ubyte.gz"), gzip(&idx_labels(&[1]))).unwrap();
        let set = load_split(&dir, "s").unwrap();
        assert_eq!(set.labels, vec![7, 8, 9]);
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let dir = temp_dir("missing");
        let err = load_split(&dir, "train").unwrap_err();
        assert!(matches!(err, DataError::NotFound { or_gz: true, .. }));
        let msg = err.to_string();
        let tried = dir.join("train-images-idx3-ubyte");
        assert_eq!(
            msg,
            format!(
                "dataset file not found: {}(.gz) (run datasets/fetch-mnist.sh, or set stimulus.dataset = \"synthetic\")",
                tried.display()
            )
        );
        assert!(!msg.contains('\n'));

        // Images present, labels missing: the label file is named.
        let (images, _) = tiny_pair();
        fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip(&images)).unwrap();
        let msg = load_split(&dir, "train").unwrap_err().to_string();
        assert!(msg.contains("train-labels-idx1-ubyte(.gz)"), "{msg}");

        // An explicit path that does not exist: no "(.gz)" suffix.
        let nowhere = dir.join("nowhere-images");
        let err = load_idx_pair(&nowhere, &nowhere, "x").unwrap_err();
        assert!(matches!(err, DataError::NotFound { or_gz: false, .. }));
        assert!(
            err.to_string()
                .starts_with(&format!("dataset file not found: {} (", nowhere.display()))
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn wrong_magic_is_rejected() {
        let dir = temp_dir("magic");
        let (images, labels) = tiny_pair();
        let (img, lab) = (dir.join("images"), dir.join("labels"));
        fs::write(&lab, &labels).unwrap();

        // Four zero bytes where the magic belongs.
        let mut bad = images.clone();
        bad[..4].copy_from_slice(&[0, 0, 0, 0]);
        fs::write(&img, &bad).unwrap();
        let err = load_idx_pair(&img, &lab, "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongMagic {
                found: 0,
                expected: 0x803,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: wrong magic number 0x00000000, expected 0x00000803 (IDX unsigned-byte images)",
                img.display()
            )
        );

        // Files swapped: a label file (0x801) where images are expected.
        let err = load_idx_pair(&lab, &img, "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ));

        // A gzip-compressed file is checked after decompression too.
        fs::write(&img, gzip(&bad)).unwrap();
        assert!(matches!(
            load_idx_pair(&img, &lab, "x"),
            Err(DataError::WrongMagic { found: 0, .. })
        ));
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn truncated_and_oversized_files_are_rejected() {
        let dir = temp_dir("trunc");
        let (images, labels) = tiny_pair();
        let (img, lab) = (dir.join("images"), dir.join("labels"));
        fs::write(&lab, &labels).unwrap();

        // Header of 60000 images of 28x28 (60000 * 784 = 47,040,000 bytes)
        // followed by only 123 bytes of pixels.
        fs::write(&img, idx_images(60000, 28, 28, &[0; 123])).unwrap();
        let err = load_idx_pair(&img, &lab, "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 47_040_000,
                actual: 123,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: truncated: header says 60000 images of 28x28 (47040000 bytes) but file holds 123 bytes after the 16-byte header",
                img.display()
            )
        );

        // The tiny file less its last pixel: 17 of 3 * 2 * 3 = 18 bytes.
        fs::write(&img, &images[..images.len() - 1]).unwrap();
        assert!(matches!(
            load_idx_pair(&img, &lab, "x"),
            Err(DataError::Truncated {
                expected: 18,
                actual: 17,
                ..
            })
        ));

        // One byte too many: 19 of 18.
        let mut long = images.clone();
        long.push(0);
        fs::write(&img, &long).unwrap();
        assert!(matches!(
            load_idx_pair(&img, &lab, "x"),
            Err(DataError::TrailingBytes {
                expected: 18,
                actual: 19,
                ..
            })
        ));

        // Cut inside the header: 10 of the 16 header bytes.
        fs::write(&img, &images[..10]).unwrap();
        assert!(matches!(
            load_idx_pair(&img, &lab, "x"),
            Err(DataError::ShortHeader {
                needed: 16,
                actual: 10,
                ..
            })
        ));

        // An empty file cannot even hold the magic.
        fs::write(&img, b"").unwrap();
        assert!(matches!(
            load_idx_pair(&img, &lab, "x"),
            Err(DataError::ShortHeader { actual: 0, .. })
        ));

        // Huge declared sizes do not overflow: 2^32-1 images of
        // (2^32-1)x(2^32-1) is about 7.9e28 bytes, still "truncated".
        fs::write(&img, idx_images(u32::MAX, u32::MAX, u32::MAX, &[])).unwrap();
        assert!(matches!(
            load_idx_pair(&img, &lab, "x"),
            Err(DataError::Truncated { actual: 0, .. })
        ));

        // A truncated gzip stream (last 20 of its bytes cut off) is a gzip error.
        let gz = gzip(&images);
        fs::write(&img, &gz[..gz.len() - 20]).unwrap();
        let err = load_idx_pair(&img, &lab, "x").unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}: corrupt gzip", img.display()))
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn zero_sized_images_are_rejected() {
        let dir = temp_dir("zero");
        let (img, lab) = (dir.join("images"), dir.join("labels"));
        fs::write(&lab, idx_labels(&[1, 2])).unwrap();
        // 2 images of 0x28: zero bytes of pixels would match, but make no sense.
        fs::write(&img, idx_images(2, 0, 28, &[])).unwrap();
        let err = load_idx_pair(&img, &lab, "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::EmptyImages {
                rows: 0,
                cols: 28,
                ..
            }
        ));
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let dir = temp_dir("count");
        let (images, _) = tiny_pair();
        let (img, lab) = (dir.join("images"), dir.join("labels"));
        fs::write(&img, &images).unwrap();
        // 3 images but 2 labels.
        fs::write(&lab, gzip(&idx_labels(&[1, 2]))).unwrap();
        let err = load_idx_pair(&img, &lab, "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::CountMismatch {
                images: 3,
                labels: 2,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: 3 images but {} holds 2 labels",
                img.display(),
                lab.display()
            )
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    #[should_panic(expected = "image index 3 out of range")]
    fn image_index_out_of_range_panics() {
        let set = ImageSet {
            name: "tiny".into(),
            rows: 2,
            cols: 3,
            pixels: (0..18).collect(),
            labels: vec![7, 8, 9],
        };
        let _ = set.image(3);
    }
}
