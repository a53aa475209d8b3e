//! Image files as bytes (C1): the type is decided by the file's magic bytes, never by
//! its name or the declared type, and the pixel size is read from the header.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpg",
            ImageType::Gif => "gif",
            ImageType::Webp => "webp",
        }
    }
}

pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageType::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageType::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageType::Gif)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageType::Webp)
    } else {
        None
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?) as u32)
}
fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as u32)
}
fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(s[0] as u32 | (s[1] as u32) << 8 | (s[2] as u32) << 16)
}

/// Width and height in pixels, when the header is well formed.
pub fn dimensions(kind: ImageType, b: &[u8]) -> Option<(u32, u32)> {
    let dims = match kind {
        // IHDR is the first chunk: length(4) "IHDR"(4) width(4) height(4).
        ImageType::Png => {
            if b.get(12..16)? != b"IHDR" {
                return None;
            }
            (u32::from_be_bytes(b.get(16..20)?.try_into().ok()?), u32::from_be_bytes(b.get(20..24)?.try_into().ok()?))
        }
        ImageType::Gif => (le16(b, 6)?, le16(b, 8)?),
        ImageType::Webp => match b.get(12..16)? {
            b"VP8 " => (le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF),
            b"VP8L" => {
                let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            }
            b"VP8X" => (le24(b, 24)? + 1, le24(b, 27)? + 1),
            _ => return None,
        },
        ImageType::Jpeg => jpeg_dimensions(b)?,
    };
    (dims.0 > 0 && dims.1 > 0).then_some(dims)
}

/// Walks the JPEG segments to the first start-of-frame marker.
fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = be16(b, i + 2)? as usize;
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            return Some((be16(b, i + 7)?, be16(b, i + 5)?));
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 1×1 PNG (real file: signature, IHDR, IDAT, IEND).
    pub const PNG_1X1: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41,
        0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn types_come_from_magic_bytes() {
        assert_eq!(sniff(PNG_1X1), Some(ImageType::Png));
        assert_eq!(sniff(b"GIF89a\x02\x00\x03\x00"), Some(ImageType::Gif));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageType::Jpeg));
        assert_eq!(sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn dimensions_are_read_from_each_header() {
        assert_eq!(dimensions(ImageType::Png, PNG_1X1), Some((1, 1)));
        assert_eq!(dimensions(ImageType::Gif, b"GIF89a\x40\x01\xF0\x00"), Some((320, 240)));
        // JPEG: SOI, APP0 (len 16), SOF0 with height 480, width 640.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        jpeg.extend_from_slice(&[0; 14]);
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80]);
        assert_eq!(dimensions(ImageType::Jpeg, &jpeg), Some((640, 480)));
        let mut vp8x = b"RIFF\x00\x00\x00\x00WEBPVP8X".to_vec();
        vp8x.extend_from_slice(&[0; 8]);
        vp8x.extend_from_slice(&[0x7F, 0x02, 0x00, 0xDF, 0x01, 0x00]); // 640 × 480
        assert_eq!(dimensions(ImageType::Webp, &vp8x), Some((640, 480)));
        assert_eq!(dimensions(ImageType::Png, b"\x89PNG\r\n\x1a\n"), None);
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{bytes, config};
        use proptest::prelude::*;

        const KINDS: [ImageType; 4] = [ImageType::Png, ImageType::Jpeg, ImageType::Gif, ImageType::Webp];

        fn png(w: u32, h: u32) -> Vec<u8> {
            let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
            b.extend_from_slice(&w.to_be_bytes());
            b.extend_from_slice(&h.to_be_bytes());
            b
        }

        fn gif(w: u16, h: u16) -> Vec<u8> {
            let mut b = b"GIF89a".to_vec();
            b.extend_from_slice(&w.to_le_bytes());
            b.extend_from_slice(&h.to_le_bytes());
            b
        }

        /// SOI, `segments` APPn segments of the given lengths, then SOF0.
        fn jpeg(w: u16, h: u16, segments: &[u16]) -> Vec<u8> {
            let mut b = vec![0xFF, 0xD8];
            for len in segments {
                b.extend_from_slice(&[0xFF, 0xE1]);
                b.extend_from_slice(&len.to_be_bytes());
                b.extend(std::iter::repeat_n(0u8, *len as usize - 2));
            }
            b.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
            b.extend_from_slice(&h.to_be_bytes());
            b.extend_from_slice(&w.to_be_bytes());
            b
        }

        fn webp_vp8x(w: u32, h: u32) -> Vec<u8> {
            let mut b = b"RIFF\x00\x00\x00\x00WEBPVP8X".to_vec();
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
            b.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
            b
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_bytes_are_sniffed_and_measured_without_panicking(b in bytes(64), kind in proptest::sample::select(&KINDS[..])) {
                let _ = sniff(&b);
                if let Some((w, h)) = dimensions(kind, &b) {
                    prop_assert!(w > 0 && h > 0);
                }
            }

            #[test]
            fn the_type_comes_from_the_first_bytes_whatever_follows(kind in proptest::sample::select(&KINDS[..]), tail in bytes(64)) {
                let mut b = match kind {
                    ImageType::Png => png(1, 1),
                    ImageType::Jpeg => vec![0xFF, 0xD8, 0xFF],
                    ImageType::Gif => gif(1, 1),
                    ImageType::Webp => webp_vp8x(1, 1),
                };
                b.extend_from_slice(&tail);
                prop_assert_eq!(sniff(&b), Some(kind));
            }

            #[test]
            fn text_is_never_an_image(text in "[\t\n\r -~]{0,64}") {
                prop_assert_eq!(sniff(text.as_bytes()), None);
            }

            #[test]
            fn written_dimensions_are_read_back(
                w in 1u32..=0x7FFF_FFFF, h in 1u32..=0x7FFF_FFFF,
                w16 in 1u16.., h16 in 1u16.., w24 in 1u32..=1 << 24, h24 in 1u32..=1 << 24,
                segments in proptest::collection::vec(2u16..300, 0..4), tail in bytes(16),
            ) {
                for (mut file, want) in [
                    (png(w, h), (w, h)),
                    (gif(w16, h16), (w16 as u32, h16 as u32)),
                    (jpeg(w16, h16, &segments), (w16 as u32, h16 as u32)),
                    (webp_vp8x(w24, h24), (w24, h24)),
                ] {
                    file.extend_from_slice(&tail);
                    let kind = sniff(&file).expect("a known type");
                    prop_assert_eq!(dimensions(kind, &file), Some(want), "{:?}", kind);
                }
            }

            #[test]
            fn a_cut_header_gives_no_dimensions_rather_than_garbage(kind in proptest::sample::select(&KINDS[..]), cut in 0usize..24) {
                let file = match kind {
                    ImageType::Png => png(640, 480),
                    ImageType::Jpeg => jpeg(640, 480, &[16]),
                    ImageType::Gif => gif(640, 480),
                    ImageType::Webp => webp_vp8x(640, 480),
                };
                let cut = &file[..file.len() - 1 - cut.min(file.len() - 1)];
                prop_assert_eq!(dimensions(kind, cut), None);
            }
        }
    }
}
