//! A sample of an image's pixels (for the palette check, B3), decoded from PNG, JPEG or
//! WebP bytes with bounded memory and CPU:
//! - at most [`SAMPLE_TARGET`] pixels (about 128 × 128) are kept, taken on a regular grid;
//! - a PNG is decoded one row at a time (memory: a row), a baseline JPEG at 1/2, 1/4 or
//!   1/8 scale straight from its DCT, so both may be up to [`MAX_STREAMED_PIXELS`];
//! - a WebP or a progressive JPEG is decoded whole, so it may be up to
//!   [`MAX_BUFFERED_PIXELS`];
//! - larger images are refused from their header, before any pixel is decoded.
//!
//! Pixels less than half opaque are left out; grey is expanded to RGB; 16-bit channels
//! keep their high byte. Colour profiles are ignored (the bytes are taken as sRGB).

use crate::library::images::{self, ImageType};
use std::io::Cursor;

/// How many pixels a sample holds at most (roughly; the grid step is an integer).
pub const SAMPLE_TARGET: u64 = 16_384;
/// 4096 × 4096: the largest PNG or baseline JPEG that is sampled.
pub const MAX_STREAMED_PIXELS: u64 = 4096 * 4096;
/// 2048 × 2048: the largest WebP or progressive JPEG (decoded whole, 4 bytes a pixel).
pub const MAX_BUFFERED_PIXELS: u64 = 2048 * 2048;
/// What a decoder may allocate, whatever the header claims.
const DECODER_MEMORY_LIMIT: usize = 48 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub width: u32,
    pub height: u32,
    /// Opaque pixels on a regular grid, as sRGB.
    pub pixels: Vec<[u8; 3]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleError {
    /// Not PNG, JPEG or WebP (GIF, or not an image).
    Unsupported,
    TooLarge { width: u32, height: u32 },
    /// The decoder refused the bytes.
    Unreadable,
}

/// The grid step that keeps about `SAMPLE_TARGET` of `pixels` pixels.
fn grid_step(pixels: u64) -> u32 {
    let mut step = 1u32;
    while pixels / (step as u64 * step as u64) > SAMPLE_TARGET {
        step += 1;
    }
    step
}

fn too_large(width: u32, height: u32, max: u64) -> Result<(), SampleError> {
    if width as u64 * height as u64 > max {
        Err(SampleError::TooLarge { width, height })
    } else {
        Ok(())
    }
}

/// Decodes `bytes` (type decided from their magic bytes) into a sample of pixels.
pub fn sample(bytes: &[u8]) -> Result<Sample, SampleError> {
    match images::sniff(bytes) {
        Some(ImageType::Png) => sample_png(bytes),
        Some(ImageType::Jpeg) => sample_jpeg(bytes),
        Some(ImageType::Webp) => sample_webp(bytes),
        Some(ImageType::Gif) | None => Err(SampleError::Unsupported),
    }
}

/// Takes every `step`-th pixel of one row of `channels`-byte pixels (1 grey, 2 grey +
/// alpha, 3 RGB, 4 RGBA), leaving out pixels less than half opaque.
fn take_row(row: &[u8], channels: usize, step: usize, out: &mut Vec<[u8; 3]>) {
    for px in row.chunks_exact(channels).step_by(step) {
        let (rgb, alpha) = match channels {
            1 => ([px[0]; 3], 255),
            2 => ([px[0]; 3], px[1]),
            3 => ([px[0], px[1], px[2]], 255),
            _ => ([px[0], px[1], px[2]], px[3]),
        };
        if alpha >= 128 {
            out.push(rgb);
        }
    }
}

fn sample_png(bytes: &[u8]) -> Result<Sample, SampleError> {
    let (w, h) = images::dimensions(ImageType::Png, bytes).ok_or(SampleError::Unreadable)?;
    too_large(w, h, MAX_STREAMED_PIXELS)?;
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: DECODER_MEMORY_LIMIT });
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.set_ignore_text_chunk(true);
    decoder.ignore_checksums(true);
    let mut reader = decoder.read_info().map_err(|_| SampleError::Unreadable)?;
    let (width, height) = (reader.info().width, reader.info().height);
    too_large(width, height, MAX_STREAMED_PIXELS)?;
    let channels = match reader.output_color_type() {
        (_, png::BitDepth::Sixteen) => return Err(SampleError::Unreadable),
        (png::ColorType::Grayscale, _) => 1,
        (png::ColorType::GrayscaleAlpha, _) => 2,
        (png::ColorType::Rgb, _) => 3,
        (png::ColorType::Rgba, _) => 4,
        (png::ColorType::Indexed, _) => return Err(SampleError::Unreadable),
    };
    let step = grid_step(width as u64 * height as u64) as usize;
    let mut pixels = Vec::new();
    // An interlaced PNG comes as the rows of its seven passes, which hold every pixel
    // once: the grid is over those rows, which is as fair a sample for colours.
    let mut n = 0usize;
    loop {
        match reader.next_row() {
            Ok(Some(row)) => {
                if n % step == 0 {
                    take_row(row.data(), channels, step, &mut pixels);
                }
                n += 1;
            }
            Ok(None) => break,
            // A truncated image still has the rows read so far.
            Err(_) if !pixels.is_empty() => break,
            Err(_) => return Err(SampleError::Unreadable),
        }
    }
    Ok(Sample { width, height, pixels })
}

fn sample_jpeg(bytes: &[u8]) -> Result<Sample, SampleError> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    decoder.set_max_decoding_buffer_size(DECODER_MEMORY_LIMIT);
    decoder.read_info().map_err(|_| SampleError::Unreadable)?;
    let info = decoder.info().ok_or(SampleError::Unreadable)?;
    let (width, height) = (info.width as u32, info.height as u32);
    let max = match info.coding_process {
        jpeg_decoder::CodingProcess::DctSequential => MAX_STREAMED_PIXELS,
        _ => MAX_BUFFERED_PIXELS,
    };
    too_large(width, height, max)?;
    // Ask for the grid's size: the decoder picks the smallest DCT scale at least as big.
    let step = grid_step(width as u64 * height as u64).min(8);
    let (sw, sh) = decoder.scale(width.div_ceil(step) as u16, height.div_ceil(step) as u16).map_err(|_| SampleError::Unreadable)?;
    let data = decoder.decode().map_err(|_| SampleError::Unreadable)?;
    let channels = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => 1,
        jpeg_decoder::PixelFormat::L16 => 2,
        jpeg_decoder::PixelFormat::RGB24 => 3,
        jpeg_decoder::PixelFormat::CMYK32 => 4,
    };
    let (sw, sh) = (sw as usize, sh as usize);
    if sw == 0 || sh == 0 || data.len() < sw * sh * channels {
        return Err(SampleError::Unreadable);
    }
    let step = grid_step(sw as u64 * sh as u64) as usize;
    let mut pixels = Vec::new();
    for row in data.chunks_exact(sw * channels).take(sh).step_by(step) {
        for px in row.chunks_exact(channels).step_by(step) {
            pixels.push(match info.pixel_format {
                jpeg_decoder::PixelFormat::L8 => [px[0]; 3],
                // Big-endian samples: the first byte is the high one.
                jpeg_decoder::PixelFormat::L16 => [px[0]; 3],
                jpeg_decoder::PixelFormat::RGB24 => [px[0], px[1], px[2]],
                // Ink amounts: none is white.
                jpeg_decoder::PixelFormat::CMYK32 => {
                    let k = 255 - px[3] as u32;
                    [0, 1, 2].map(|i| ((255 - px[i] as u32) * k / 255) as u8)
                }
            });
        }
    }
    Ok(Sample { width, height, pixels })
}

fn sample_webp(bytes: &[u8]) -> Result<Sample, SampleError> {
    if let Some((w, h)) = images::dimensions(ImageType::Webp, bytes) {
        too_large(w, h, MAX_BUFFERED_PIXELS)?;
    }
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|_| SampleError::Unreadable)?;
    decoder.set_memory_limit(DECODER_MEMORY_LIMIT);
    let (width, height) = decoder.dimensions();
    too_large(width, height, MAX_BUFFERED_PIXELS)?;
    let channels = if decoder.has_alpha() { 4 } else { 3 };
    let size = decoder.output_buffer_size().ok_or(SampleError::Unreadable)?;
    if size != width as usize * height as usize * channels {
        return Err(SampleError::Unreadable);
    }
    let mut data = vec![0u8; size];
    decoder.read_image(&mut data).map_err(|_| SampleError::Unreadable)?;
    let step = grid_step(width as u64 * height as u64) as usize;
    let mut pixels = Vec::new();
    for row in data.chunks_exact(width as usize * channels).step_by(step) {
        take_row(row, channels, step, &mut pixels);
    }
    Ok(Sample { width, height, pixels })
}
