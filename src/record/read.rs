//! Opening a spikesim output file for reading, shared by [`inspect`] and
//! [`checkpoint`]: the checks that it is a spikesim file of this schema
//! version, member listing in creation order, and attribute and type names
//! rendered as text.
//!
//! [`inspect`]: super::inspect
//! [`checkpoint`]: super::checkpoint

use std::path::Path;

use hdf5::types::{FloatSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{
    Attribute, Container, File, Group, IndexType, IterationOrder, Location, MinorErrorCode,
};

use crate::os_memory;
use crate::record::error::ReadError;
use crate::record::schema;

/// Opens the spikesim output file at `path` for reading, checking that it
/// exists ([`ReadError::NotFound`]), is HDF5 ([`ReadError::NotHdf5`]), has a
/// `schema_version` root attribute ([`ReadError::NotSpikesim`]) and that
/// version is [`schema::SCHEMA_VERSION`] ([`ReadError::UnsupportedSchema`]).
pub(crate) fn open_spikesim(path: &Path) -> Result<File, ReadError> {
    let read_error = |reason: String| ReadError::Read {
        path: path.to_owned(),
        reason,
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReadError::NotFound {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(read_error(e.to_string())),
        Ok(meta) if meta.is_dir() => return Err(read_error("it is a directory".to_owned())),
        Ok(_) => {}
    }
    // Without HDF5's file lock, so that a file a run is still writing can
    // be read too: what it flushed last (every 2 s) is consistent on disk.
    let file = File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
        .map_err(|e| {
            if e.contains_minor(MinorErrorCode::NotHdf5) {
                ReadError::NotHdf5 {
                    path: path.to_owned(),
                }
            } else {
                read_error(e.to_string())
            }
        })?;

    let Ok(version_attr) = file.attr(schema::ATTR_SCHEMA_VERSION) else {
        return Err(ReadError::NotSpikesim {
            path: path.to_owned(),
        });
    };
    let version = render_attr(&version_attr)
        .map_err(|e| read_error(format!("attribute {}: {e}", schema::ATTR_SCHEMA_VERSION)))?;
    if version != schema::SCHEMA_VERSION {
        return Err(ReadError::UnsupportedSchema {
            path: path.to_owned(),
            found: version,
        });
    }
    Ok(file)
}

/// The value of a scalar dataset or attribute as text, in its own type (an
/// f32 0.8312 prints as `0.8312`, not as its f64 widening).
pub(crate) fn render_scalar(c: &Container, dtype: &TypeDescriptor) -> hdf5::Result<String> {
    Ok(match dtype {
        TypeDescriptor::Float(FloatSize::U4) => c.read_scalar::<f32>()?.to_string(),
        TypeDescriptor::Float(_) => c.read_scalar::<f64>()?.to_string(),
        TypeDescriptor::Unsigned(_) => c.read_scalar::<u64>()?.to_string(),
        TypeDescriptor::Integer(_) => c.read_scalar::<i64>()?.to_string(),
        TypeDescriptor::Boolean => c.read_scalar::<bool>()?.to_string(),
        TypeDescriptor::VarLenUnicode => c.read_scalar::<VarLenUnicode>()?.as_str().to_owned(),
        TypeDescriptor::VarLenAscii => c.read_scalar::<VarLenAscii>()?.as_str().to_owned(),
        other => format!("<{other}>"),
    })
}

/// A scalar attribute as text, whatever its numeric or string type.
pub(crate) fn render_attr(attr: &Attribute) -> hdf5::Result<String> {
    if !attr.is_scalar() {
        return Ok(format!("<array of shape {:?}>", attr.shape()));
    }
    render_scalar(attr, &attr.dtype()?.to_descriptor()?)
}

/// Names of the attributes of `loc`, in name order. Each is opened by its
/// index: `Location::attr_names` iterates with an info record whose
/// character set, a byte of the file, it takes as a Rust enum, which a
/// corrupt byte makes undefined (`spikesim inspect` of such a file aborted
/// on a 7.6·10^18-byte allocation).
pub(crate) fn attr_names(loc: &Location) -> Result<Vec<String>, String> {
    let what = || format!("attributes of {}", loc.name());
    let count = loc
        .loc_info()
        .map_err(|e| format!("{}: {e}", what()))?
        .num_attrs;
    (0..count as u64)
        .map(|k| {
            loc.attr_by_index(IndexType::Name, IterationOrder::Increasing, k)
                .map(|a| a.name())
                .map_err(|e| format!("{} (#{k}): {e}", what()))
        })
        .collect()
}

/// Whether the values of the dataset `name` of `shape` (elements of
/// `elem_bytes` bytes) can be read into memory: fewer bytes than the memory
/// available ([`os_memory::available`], else `isize::MAX`). A damaged file's
/// shape can claim more than any machine has, and allocating for it would
/// abort the process instead of failing the read.
pub(crate) fn check_fits(name: &str, shape: &[usize], elem_bytes: usize) -> Result<(), String> {
    let bytes = shape
        .iter()
        .try_fold(elem_bytes as u64, |n, &d| n.checked_mul(d as u64));
    let limit = os_memory::available().unwrap_or(isize::MAX as u64);
    match bytes {
        Some(bytes) if bytes <= limit => Ok(()),
        _ => Err(format!(
            "{name} has shape {shape:?}, {} of values, more than the {} of memory available (a damaged file?)",
            bytes.map_or("more than 2^64 bytes".to_owned(), os_memory::human),
            os_memory::human(limit)
        )),
    }
}

/// Member names in creation order where the group tracks it (spikesim's
/// groups do), by name otherwise.
pub(crate) fn members(group: &Group) -> Result<Vec<String>, String> {
    group
        .member_names_by(IndexType::CreationOrder, IterationOrder::Increasing)
        .or_else(|_| group.member_names())
        .map_err(|e| format!("listing {}: {e}", group.name()))
}

/// `float32`, `int32`, ... as h5py and numpy name them.
pub(crate) fn type_name(t: &TypeDescriptor) -> String {
    match t {
        TypeDescriptor::Integer(size) => format!("int{}", *size as usize * 8),
        TypeDescriptor::Unsigned(size) => format!("uint{}", *size as usize * 8),
        TypeDescriptor::Float(size) => format!("float{}", *size as usize * 8),
        TypeDescriptor::Boolean => "bool".to_owned(),
        TypeDescriptor::VarLenUnicode | TypeDescriptor::VarLenAscii => "string".to_owned(),
        other => other.to_string(),
    }
}
