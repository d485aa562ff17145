//! Creating and extending HDF5 groups, datasets and attributes with the
//! storage settings of [`schema`].

use hdf5::filters::{Filter, ScaleOffset};
use hdf5::plist::group_create::LinkCreationOrder;
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, DatasetBuilderEmptyShape, Group, H5Type, Location};
use ndarray::{ArrayView2, s};

use crate::config::Compression;
use crate::record::schema::{self, DATASET_CHUNK_BYTES, DATASET_CONTIGUOUS_MAX_BYTES};

/// The filter pipeline of one chunked dataset. Every codec is lossless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Codec {
    /// No filter.
    Raw,
    /// Deflate at [`schema::DEFLATE_LEVEL`].
    Deflate,
    /// HDF5's scale-offset filter in integer mode with the minimum bits
    /// computed per chunk: each chunk stores `value - min` in just enough
    /// bits, so it is lossless. Integer datasets only.
    IntScaleOffset,
}

impl Codec {
    /// The HDF5 filter of this codec, if any.
    pub(super) fn filter(self) -> Option<Filter> {
        match self {
            Codec::Raw => None,
            Codec::Deflate => Some(Filter::deflate(schema::DEFLATE_LEVEL)),
            Codec::IntScaleOffset => Some(Filter::scale_offset(ScaleOffset::Integer(0))),
        }
    }
}

/// The codecs of a file's datasets, chosen once from
/// [`Layout::compress`](crate::record::layout::Layout::compress) and the
/// filters the HDF5 library has.
///
/// With [`Compression::Sonata`] (the default) the datasets SONATA tools open
/// (`/spikes/*`, `/report/*/*/data`) use only filters that every HDF5 build
/// decodes, so that libsonata, whose wheels build HDF5 without zlib, reads
/// the file as it is: the integer `node_ids` are scale-offset packed; the
/// float `timestamps` and report `data` are stored raw, since HDF5's only
/// built-in float filter (scale-offset D-scaling) is lossy. The datasets
/// only spikesim and h5py read (`/rates`, `/weights`, `/samples`,
/// `/results`, `/state`) are deflated. [`Compression::All`] deflates every
/// dataset; [`Compression::None`] filters none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Codecs {
    /// Codec of the integer datasets SONATA readers open (spike `node_ids`).
    pub(super) sonata_ints: Codec,
    /// Codec of the float datasets SONATA readers open (spike `timestamps`,
    /// report `data`).
    pub(super) sonata_floats: Codec,
    /// Codec of the datasets only spikesim and h5py read.
    pub(super) private: Codec,
}

impl Codecs {
    /// The codecs for a file written with `compress` (`record.compress`),
    /// each filter only where the library has it.
    pub(super) fn new(compress: Compression) -> Self {
        let pick = |codec: Codec| match codec.filter() {
            Some(filter) if filter.is_available() => codec,
            _ => Codec::Raw,
        };
        let (sonata_ints, sonata_floats, private) = match compress {
            Compression::Sonata => (Codec::IntScaleOffset, Codec::Raw, Codec::Deflate),
            Compression::All => (Codec::Deflate, Codec::Deflate, Codec::Deflate),
            Compression::None => (Codec::Raw, Codec::Raw, Codec::Raw),
        };
        Codecs {
            sonata_ints: pick(sonata_ints),
            sonata_floats: pick(sonata_floats),
            private: pick(private),
        }
    }
}

/// Slots of the chunk cache of each growing dataset (a prime, as HDF5 advises).
const CHUNK_CACHE_SLOTS: usize = 521;
/// Preemption policy of the chunk cache: evict fully read or written chunks first.
const CHUNK_CACHE_W0: f64 = 0.75;

/// Chunk-cache size per growing dataset: the HDF5 default (1 MiB), or two
/// chunks where a chunk is larger, so the partly filled last chunk stays in
/// cache between appends and is compressed once.
fn cache_bytes(chunk_bytes: usize) -> usize {
    (2 * chunk_bytes).max(1 << 20)
}

/// Bytes of one chunk of `ds`: what a growing dataset may write to the file
/// beyond the data appended to it (its partly filled last chunk, allocated
/// whole).
pub(super) fn chunk_bytes(ds: &Dataset) -> u64 {
    let elems: usize = ds.chunk().map_or(0, |c| c.iter().product());
    (elems * ds.dtype().map_or(8, |t| t.size())) as u64
}

/// A group that remembers the creation order of its members, so `inspect`
/// lists layers in the order of the configuration.
pub(super) fn ordered_group(parent: &Group, name: &str) -> hdf5::Result<Group> {
    parent
        .create_group_builder()
        .with_gcpl(|p| p.link_creation_order(LinkCreationOrder::Indexed))
        .create(name)
}

/// An empty, extendible, chunked 1-D dataset of `chunk` elements a chunk.
pub(super) fn growing_1d<T: H5Type>(
    group: &Group,
    name: &str,
    chunk: usize,
    codec: Codec,
) -> hdf5::Result<Dataset> {
    let builder = group.new_dataset::<T>().shape(0..).chunk(chunk);
    create_growing(builder, chunk * size_of::<T>(), codec, name)
}

/// An empty 2-D dataset of `n_cols` columns, extendible along its rows and
/// chunked as `chunk` (from [`schema::chunk_2d`]). With no columns the column
/// dimension is extendible too, since a chunk cannot exceed a fixed size of 0.
pub(super) fn growing_2d<T: H5Type>(
    group: &Group,
    name: &str,
    n_cols: usize,
    chunk: (usize, usize),
    codec: Codec,
) -> hdf5::Result<Dataset> {
    let builder = group.new_dataset::<T>();
    let builder = if n_cols == 0 {
        builder.shape((0.., 0..))
    } else {
        builder.shape((0.., n_cols))
    };
    let chunk_bytes = chunk.0 * chunk.1 * size_of::<T>();
    create_growing(builder.chunk(chunk), chunk_bytes, codec, name)
}

/// Creates the chunked dataset of `builder` with a chunk cache sized for
/// chunks of `chunk_bytes` bytes, filtered by `codec`.
fn create_growing(
    builder: DatasetBuilderEmptyShape,
    chunk_bytes: usize,
    codec: Codec,
    name: &str,
) -> hdf5::Result<Dataset> {
    let mut builder =
        builder.chunk_cache(CHUNK_CACHE_SLOTS, cache_bytes(chunk_bytes), CHUNK_CACHE_W0);
    if let Some(filter) = codec.filter() {
        builder = builder.set_filters(&[filter]);
    }
    builder.create(name)
}

/// A fixed-size 1-D dataset holding `data` (which may be empty); filtered by
/// `codec` in chunks, or contiguous where `codec` is [`Codec::Raw`].
pub(super) fn fixed_1d<T: H5Type>(
    group: &Group,
    name: &str,
    data: &[T],
    codec: Codec,
) -> hdf5::Result<Dataset> {
    let builder = group.new_dataset_builder().with_data(data);
    match codec.filter() {
        Some(filter) if !data.is_empty() => builder
            .chunk(data.len().min(schema::SPIKE_CHUNK_ELEMS))
            .set_filters(&[filter])
            .create(name),
        _ => builder.create(name),
    }
}

/// it does not exist yet.
pub(super) fn child_group(parent: &Group, name: &str) -> hdf5::Result<Group> {
    if parent.link_exists(name) {
        parent.group(name)
    } else {
        ordered_group(parent, name)
    }
}

/// A fixed-size dataset of shape `dims` holding `data` (row-major): a scalar
/// dataspace for `[]`, contiguous up to [`DATASET_CONTIGUOUS_MAX_BYTES`], and
/// above that, where `codec` has a filter, chunked by [`chunk_nd`] and
/// filtered.
pub(super) fn whole_dataset<T: H5Type>(
    group: &Group,
    name: &str,
    dims: &[usize],
    data: &[T],
    codec: Codec,
) -> hdf5::Result<Dataset> {
    if dims.is_empty() {
        let ds = group.new_dataset::<T>().shape(()).create(name)?;
        ds.write_scalar(&data[0])?;
        return Ok(ds);
    }
    let mut builder = group.new_dataset::<T>().shape(dims.to_vec());
    let bytes = std::mem::size_of_val(data);
    if let Some(filter) = codec.filter()
        && bytes > DATASET_CONTIGUOUS_MAX_BYTES
    {
        builder = builder
            .chunk(chunk_nd(dims, size_of::<T>(), DATASET_CHUNK_BYTES))
            .set_filters(&[filter]);
    }
    let ds = builder.create(name)?;
    if !data.is_empty() {
        ds.write_raw(data)?;
    }
    Ok(ds)
}

/// Chunk shape of a fixed-size dataset of shape `dims` (no dimension 0) of
/// `elem_bytes`-byte elements, at most `max_bytes` a chunk: the trailing
/// dimensions whole as far as they fit, then as much of the next as fits.
pub(super) fn chunk_nd(dims: &[usize], elem_bytes: usize, max_bytes: usize) -> Vec<usize> {
    let mut budget = (max_bytes / elem_bytes.max(1)).max(1);
    let mut chunk = vec![1; dims.len()];
    for (c, &d) in chunk.iter_mut().zip(dims).rev() {
        *c = budget.clamp(1, d.max(1));
        budget /= *c;
    }
    chunk
}

pub(super) fn scalar_attr<T: H5Type>(loc: &Location, name: &str, value: &T) -> hdf5::Result<()> {
    loc.new_attr::<T>()
        .shape(())
        .create(name)?
        .write_scalar(value)
}

pub(super) fn str_attr(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    let value: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("attribute {name}: {e}")))?;
    scalar_attr(loc, name, &value)
}

/// Appends `data` to the 1-D dataset `ds` that holds `start` elements.
pub(super) fn append_1d<T: H5Type>(ds: &Dataset, start: usize, data: &[T]) -> hdf5::Result<()> {
    let end = start + data.len();
    ds.resize(end)?;
    ds.write_slice(data, start..end)
}

/// Appends `rows` rows of `n_cols` columns (row-major `data`, of length
/// `rows · n_cols`) to the 2-D dataset `ds` that holds `start` rows.
pub(super) fn append_rows<T: H5Type>(
    ds: &Dataset,
    start: usize,
    rows: usize,
    n_cols: usize,
    data: &[T],
) -> hdf5::Result<()> {
    let end = start + rows;
    ds.resize((end, n_cols))?;
    if n_cols == 0 {
        return Ok(());
    }
    let view = ArrayView2::from_shape((rows, n_cols), data)
        .map_err(|e| hdf5::Error::from(format!("{}: {e}", ds.name())))?;
    ds.write_slice(view, s![start..end, ..])
}

/// Writes a scalar attribute, creating it where it does not exist yet.
pub(super) fn set_attr<T: H5Type>(loc: &Location, name: &str, value: &T) -> hdf5::Result<()> {
    if loc.attr_names()?.iter().any(|n| n == name) {
        loc.attr(name)?.write_scalar(value)
    } else {
        scalar_attr(loc, name, value)
    }
}

/// `text` as an HDF5 string: NUL characters, which HDF5 strings cannot hold,
/// become U+FFFD.
pub(crate) fn h5_string(text: &str) -> VarLenUnicode {
    text.replace('\0', "\u{fffd}")
        .parse()
        .expect("a string without NUL characters")
}
