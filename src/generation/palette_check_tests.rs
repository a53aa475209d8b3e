use super::*;
use crate::library::pixels::{sample, MAX_BUFFERED_PIXELS, MAX_STREAMED_PIXELS, SAMPLE_TARGET};

// ---- fixtures: real files made by real encoders --------------------------------------------------

const TEAL: [u8; 3] = [0x0e, 0x7c, 0x66];
const CREAM: [u8; 3] = [0xf5, 0xf0, 0xe1];
const RED: [u8; 3] = [0xd1, 0x1f, 0x1f];
const BLUE: [u8; 3] = [0x1d, 0x4e, 0xd8];

/// `width × height` pixels in vertical stripes: `(colour, share of the width)`.
fn stripes(width: u32, height: u32, parts: &[([u8; 3], f32)]) -> Vec<u8> {
    let mut row = Vec::new();
    for x in 0..width {
        let pos = (x as f32 + 0.5) / width as f32;
        let mut acc = 0.0;
        let mut colour = parts.last().unwrap().0;
        for (c, share) in parts {
            acc += share;
            if pos < acc {
                colour = *c;
                break;
            }
        }
        row.extend_from_slice(&colour);
    }
    row.repeat(height as usize)
}

fn png_file(width: u32, height: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

fn png_rgb(width: u32, height: u32, data: &[u8]) -> Vec<u8> {
    png_file(width, height, png::ColorType::Rgb, png::BitDepth::Eight, data)
}

fn jpeg(width: u16, height: u16, data: &[u8], progressive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_progressive(progressive);
    encoder.encode(data, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn webp(width: u32, height: u32, data: &[u8], color: image_webp::ColorType) -> Vec<u8> {
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out).encode(data, width, height, color).unwrap();
    out
}

fn brand(hexes: &[&str]) -> Vec<Color> {
    hexes.iter().map(|h| Color { hex: (*h).into(), role: "primary".into() }).collect()
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: i32) -> bool {
    (0..3).all(|i| (a[i] as i32 - b[i] as i32).abs() <= tolerance)
}

// ---- colour ---------------------------------------------------------------------------------

#[test]
fn oklab_matches_the_reference_values() {
    let white = oklab([255.0; 3]);
    assert!((white.l - 1.0).abs() < 1e-3 && white.a.abs() < 1e-3 && white.b.abs() < 1e-3, "{white:?}");
    let black = oklab([0.0; 3]);
    assert!(black.l.abs() < 1e-6 && black.chroma() < 1e-6);
    // sRGB red in Ottosson's table: L 0.628, a 0.225, b 0.126.
    let red = oklab([255.0, 0.0, 0.0]);
    assert!((red.l - 0.628).abs() < 2e-3 && (red.a - 0.225).abs() < 2e-3 && (red.b - 0.126).abs() < 2e-3, "{red:?}");
}

#[test]
fn shades_of_a_brand_colour_match_it_and_other_hues_do_not() {
    let teal = oklab(TEAL.map(f32::from));
    for shade in ["#2a9d8f", "#0a5c4c", "#139a7e", "#0f766e"] {
        let d = delta_e(teal, oklab(parse_rgb(shade).unwrap().map(f32::from)));
        assert!(d <= MATCH_DELTA_E, "{shade}: {d}");
    }
    for other in ["#1d4ed8", "#d11f1f", "#f59e0b", "#7c3aed", "#4f46e5"] {
        let d = delta_e(teal, oklab(parse_rgb(other).unwrap().map(f32::from)));
        assert!(d > 2.0 * MATCH_DELTA_E, "{other}: {d}");
    }
    assert!(oklab(CREAM.map(f32::from)).chroma() < NEUTRAL_CHROMA, "cream counts as neutral");
}

#[test]
fn hex_round_trips() {
    assert_eq!(parse_rgb("#0E7C66"), Some(TEAL));
    assert_eq!(parse_rgb("#fff"), Some([255; 3]));
    assert_eq!(parse_rgb("red"), None);
    assert_eq!(hex(TEAL), "#0e7c66");
}

// ---- dominant colours -----------------------------------------------------------------------------

#[test]
fn two_flat_colours_give_two_dominant_colours_with_their_shares() {
    let mut pixels = vec![RED; 700];
    pixels.extend(vec![TEAL; 300]);
    let d = dominant_colours(&pixels);
    assert_eq!(d.len(), 2);
    assert_eq!((d[0].rgb, d[1].rgb), (RED, TEAL));
    assert!((d[0].share - 0.7).abs() < 1e-6 && (d[1].share - 0.3).abs() < 1e-6);
}

#[test]
fn a_gentle_gradient_is_one_colour_and_noise_does_not_split_it() {
    // Teal ± a few levels in each channel: one group, its mean the teal.
    let pixels: Vec<[u8; 3]> = (0..1000u32).map(|i| [TEAL[0] + (i % 5) as u8, TEAL[1] - (i % 7) as u8, TEAL[2] + (i % 3) as u8]).collect();
    let d = dominant_colours(&pixels);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(close(d[0].rgb, TEAL, 6), "{:?}", d[0].rgb);
}

#[test]
fn no_pixels_no_colours() {
    assert!(dominant_colours(&[]).is_empty());
}

// ---- comparison ---------------------------------------------------------------------------------

#[test]
fn an_off_brand_image_fails_naming_its_colours() {
    let mut pixels = vec![RED; 600];
    pixels.extend(vec![BLUE; 250]);
    pixels.extend(vec![TEAL; 150]);
    let c = compare(&dominant_colours(&pixels), &[TEAL]);
    assert_eq!(c.status, PaletteStatus::Failed);
    assert_eq!(
        c.problems,
        vec![
            "Off-brand colour #d11f1f covers 60% of the image (nearest brand colour #0e7c66, ΔE 29.6).",
            "Off-brand colour #1d4ed8 covers 25% of the image (nearest brand colour #0e7c66, ΔE 23.9).",
        ]
    );
    let kinds: Vec<_> = c.colours.iter().map(|c| (c.hex.as_str(), c.share, c.kind)).collect();
    assert_eq!(
        kinds,
        vec![("#d11f1f", 0.6, ColourKind::OffBrand), ("#1d4ed8", 0.25, ColourKind::OffBrand), ("#0e7c66", 0.15, ColourKind::OnBrand)]
    );
    assert_eq!(c.colours[2].delta_e, 0.0);
}

#[test]
fn brand_colours_shades_and_neutrals_pass() {
    let mut pixels = vec![TEAL; 400];
    pixels.extend(vec![[0x2a, 0x9d, 0x8f]; 200]); // a lighter teal
    pixels.extend(vec![CREAM; 300]);
    pixels.extend(vec![[20, 20, 20]; 100]);
    let c = compare(&dominant_colours(&pixels), &[TEAL]);
    assert_eq!(c.status, PaletteStatus::Passed, "{c:?}");
    assert!(c.problems.is_empty());
    assert!(c.colours.iter().any(|c| c.kind == ColourKind::Neutral));
}

#[test]
fn a_small_off_brand_accent_is_allowed_and_a_larger_one_is_not() {
    let image = |red: usize| {
        let mut pixels = vec![RED; red];
        pixels.extend(vec![TEAL; 1000 - red]);
        compare(&dominant_colours(&pixels), &[TEAL]).status
    };
    assert_eq!(image(150), PaletteStatus::Passed);
    assert_eq!(image(160), PaletteStatus::Failed);
    // Under 1 % is noise, never judged.
    let mut pixels = vec![RED; 9];
    pixels.extend(vec![BLUE; 991]);
    let c = compare(&dominant_colours(&pixels), &[BLUE]);
    assert_eq!((c.status, c.colours.len()), (PaletteStatus::Passed, 1));
}

#[test]
fn without_brand_colours_or_pixels_nothing_is_checked() {
    let c = check(&png_rgb(4, 4, &stripes(4, 4, &[(RED, 1.0)])), &[]);
    assert_eq!(c.status, PaletteStatus::NotChecked);
    assert_eq!(c.note.as_deref(), Some("The brand has no colours to check against."));
    assert_eq!(check(b"x", &brand(&["not a colour"])).status, PaletteStatus::NotChecked);
    let transparent = png_file(2, 2, png::ColorType::Rgba, png::BitDepth::Eight, &[0; 16]);
    assert_eq!(check(&transparent, &brand(&["#0e7c66"])).note.as_deref(), Some("The image has no opaque pixels to check."));
}

#[test]
fn the_check_serialises_like_the_api_shows_it() {
    let c = compare(&dominant_colours(&[RED; 10]), &[TEAL]);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["colours"][0], serde_json::json!({"hex": "#d11f1f", "share": 1.0, "kind": "off_brand", "nearest": "#0e7c66", "delta_e": 29.6}));
    assert!(json.get("note").is_none());
    assert_eq!(serde_json::from_value::<PaletteCheck>(json).unwrap(), c);
    let n = serde_json::to_value(PaletteCheck::not_checked("x")).unwrap();
    assert_eq!(n, serde_json::json!({"status": "not_checked", "problems": [], "colours": [], "note": "x"}));
}

// ---- decoding -----------------------------------------------------------------------------------

#[test]
fn png_in_every_colour_type_decodes_to_its_colours() {
    let s = sample(&png_rgb(8, 4, &stripes(8, 4, &[(RED, 0.5), (TEAL, 0.5)]))).unwrap();
    assert_eq!((s.width, s.height, s.pixels.len()), (8, 4, 32));
    assert_eq!(s.pixels.iter().filter(|p| **p == RED).count(), 16);

    let grey = sample(&png_file(3, 1, png::ColorType::Grayscale, png::BitDepth::Eight, &[0, 128, 255])).unwrap();
    assert_eq!(grey.pixels, vec![[0; 3], [128; 3], [255; 3]]);

    // Half transparent: those pixels are left out.
    let rgba = [RED[0], RED[1], RED[2], 255, 0, 0, 255, 0, TEAL[0], TEAL[1], TEAL[2], 200, 9, 9, 9, 10];
    assert_eq!(sample(&png_file(4, 1, png::ColorType::Rgba, png::BitDepth::Eight, &rgba)).unwrap().pixels, vec![RED, TEAL]);

    let sixteen: Vec<u8> = [RED, TEAL].iter().flat_map(|c| c.iter().flat_map(|&v| [v, 0x77])).collect();
    assert_eq!(sample(&png_file(2, 1, png::ColorType::Rgb, png::BitDepth::Sixteen, &sixteen)).unwrap().pixels, vec![RED, TEAL]);

    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 2, 1);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_palette(vec![RED[0], RED[1], RED[2], TEAL[0], TEAL[1], TEAL[2]]);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[1, 0]).unwrap();
    writer.finish().unwrap();
    assert_eq!(sample(&out).unwrap().pixels, vec![TEAL, RED]);
}

#[test]
fn a_large_image_is_sampled_on_a_grid_of_bounded_size() {
    let (w, h) = (1024u32, 768u32);
    let data = stripes(w, h, &[(RED, 0.25), (TEAL, 0.75)]);
    for bytes in [png_rgb(w, h, &data), jpeg(w as u16, h as u16, &data, false), jpeg(w as u16, h as u16, &data, true)] {
        let s = sample(&bytes).unwrap();
        assert_eq!((s.width, s.height), (w, h));
        assert!(s.pixels.len() as u64 <= 2 * SAMPLE_TARGET && s.pixels.len() as u64 >= SAMPLE_TARGET / 4, "{}", s.pixels.len());
        let d = dominant_colours(&s.pixels);
        let red: f32 = d.iter().filter(|c| close(c.rgb, RED, 12)).map(|c| c.share).sum();
        assert!((red - 0.25).abs() < 0.03, "{red} {d:?}");
    }
}

#[test]
fn jpeg_baseline_progressive_and_grey_decode() {
    let data = stripes(64, 32, &[(BLUE, 0.5), (CREAM, 0.5)]);
    for progressive in [false, true] {
        let s = sample(&jpeg(64, 32, &data, progressive)).unwrap();
        assert_eq!((s.width, s.height, s.pixels.len()), (64, 32, 64 * 32));
        assert!(s.pixels.iter().filter(|p| close(**p, BLUE, 10)).count() >= 900);
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90).encode(&[200; 16 * 16], 16, 16, jpeg_encoder::ColorType::Luma).unwrap();
    assert!(sample(&out).unwrap().pixels.iter().all(|p| close(*p, [200; 3], 3)));
}

#[test]
fn webp_lossless_with_and_without_alpha_decodes() {
    let data = stripes(20, 10, &[(RED, 0.3), (TEAL, 0.7)]);
    let s = sample(&webp(20, 10, &data, image_webp::ColorType::Rgb8)).unwrap();
    assert_eq!((s.width, s.height, s.pixels.len()), (20, 10, 200));
    assert_eq!(s.pixels.iter().filter(|p| **p == RED).count(), 60);
    let rgba = [RED[0], RED[1], RED[2], 255, 1, 2, 3, 0];
    assert_eq!(sample(&webp(2, 1, &rgba, image_webp::ColorType::Rgba8)).unwrap().pixels, vec![RED]);
}

/// Committed fixtures (48 × 32: the left two thirds #d11f1f, the rest #0e7c66), made
/// by tools the crate has no encoder for: an Adam7-interlaced PNG (written by hand),
/// and lossy WebPs from `cwebp -q 80`, one with its top quarter transparent.
const INTERLACED_PNG: &[u8] = include_bytes!("fixtures/red-teal-interlaced.png");
const LOSSY_WEBP: &[u8] = include_bytes!("fixtures/red-teal-lossy.webp");
const LOSSY_ALPHA_WEBP: &[u8] = include_bytes!("fixtures/red-teal-lossy-alpha.webp");

fn red_share(pixels: &[[u8; 3]], tolerance: i32) -> f32 {
    pixels.iter().filter(|p| close(**p, RED, tolerance)).count() as f32 / pixels.len() as f32
}

#[test]
fn an_interlaced_png_gives_every_pixel_once() {
    let s = sample(INTERLACED_PNG).unwrap();
    assert_eq!((s.width, s.height, s.pixels.len()), (48, 32, 48 * 32));
    assert_eq!(s.pixels.iter().filter(|p| **p == RED).count(), 32 * 32);
    assert_eq!(s.pixels.iter().filter(|p| **p == TEAL).count(), 16 * 32);
}

#[test]
fn lossy_webp_with_and_without_alpha_decodes_to_its_colours() {
    let s = sample(LOSSY_WEBP).unwrap();
    assert_eq!((s.width, s.height, s.pixels.len()), (48, 32, 48 * 32));
    let red = red_share(&s.pixels, 24);
    assert!((red - 2.0 / 3.0).abs() < 0.05, "{red}");
    // The transparent top quarter is left out.
    let a = sample(LOSSY_ALPHA_WEBP).unwrap();
    assert_eq!(a.pixels.len(), 48 * 24);
    let c = check(LOSSY_WEBP, &brand(&["#0e7c66"]));
    assert_eq!(c.status, PaletteStatus::Failed);
    assert!(c.problems[0].starts_with("Off-brand colour #d") && c.problems[0].contains("covers 6"), "{:?}", c.problems);
    assert_eq!(check(LOSSY_WEBP, &brand(&["#0e7c66", "#d11f1f"])).status, PaletteStatus::Passed);
}

#[test]
fn images_over_the_budget_are_refused_from_their_header() {
    // A PNG whose IHDR claims 5000 × 5000 and holds nothing more.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(5000u32.to_be_bytes());
    png.extend(5000u32.to_be_bytes());
    png.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(sample(&png), Err(SampleError::TooLarge { width: 5000, height: 5000 }));
    assert!(5000 * 5000 > MAX_STREAMED_PIXELS);
    // A WebP (VP8X) canvas of 3000 × 3000.
    let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
    webp.extend([0xB7, 0x0B, 0x00, 0xB7, 0x0B, 0x00]);
    assert_eq!(sample(&webp), Err(SampleError::TooLarge { width: 3000, height: 3000 }));
    assert!(3000 * 3000 > MAX_BUFFERED_PIXELS);
    let c = check(&png, &brand(&["#0e7c66"]));
    assert_eq!(c.note.as_deref(), Some("The image is too large to check its colours (5000 × 5000 pixels)."));
    // A progressive JPEG over the buffered budget (2100 × 2100), refused before decoding.
    let big = jpeg(2100, 2100, &vec![128; 2100 * 2100 * 3], true);
    assert_eq!(sample(&big), Err(SampleError::TooLarge { width: 2100, height: 2100 }));
}

#[test]
fn other_formats_and_broken_files_are_not_checked() {
    let gif = b"GIF89a\x01\0\x01\0\0\0\0;";
    assert_eq!(sample(gif), Err(SampleError::Unsupported));
    assert_eq!(check(gif, &brand(&["#0e7c66"])).note.as_deref(), Some("Only PNG, JPEG and WebP images are checked."));
    let png = png_rgb(4, 4, &stripes(4, 4, &[(RED, 1.0)]));
    assert_eq!(sample(&png[..40]), Err(SampleError::Unreadable));
    assert_eq!(check(&png[..40], &brand(&["#0e7c66"])).status, PaletteStatus::NotChecked);
}

// ---- the whole check on real files ------------------------------------------------------------------

#[test]
fn an_off_brand_png_fails_and_an_on_brand_jpeg_and_webp_pass() {
    let fernleaf = brand(&["#0E7C66", "#f5f0e1"]);
    let off = png_rgb(300, 200, &stripes(300, 200, &[(RED, 0.6), (TEAL, 0.4)]));
    let c = check(&off, &fernleaf);
    assert_eq!(c.status, PaletteStatus::Failed);
    assert_eq!(c.problems, vec!["Off-brand colour #d11f1f covers 60% of the image (nearest brand colour #f5f0e1, ΔE 28.5)."]);

    let on = stripes(300, 200, &[(TEAL, 0.5), (CREAM, 0.5)]);
    let c = check(&jpeg(300, 200, &on, false), &fernleaf);
    assert_eq!(c.status, PaletteStatus::Passed, "{c:?}");
    assert!(c.colours.iter().any(|c| c.kind == ColourKind::OnBrand && c.share > 0.4));
    assert_eq!(check(&webp(300, 200, &on, image_webp::ColorType::Rgb8), &fernleaf).status, PaletteStatus::Passed);
}

// ---- properties ---------------------------------------------------------------------------------

mod properties {
    use super::*;
    use crate::proptest_text::{bytes, config};
    use proptest::prelude::*;

    fn valid_files() -> Vec<Vec<u8>> {
        let data = stripes(40, 24, &[(RED, 0.3), (TEAL, 0.4), (CREAM, 0.3)]);
        vec![
            png_rgb(40, 24, &data),
            jpeg(40, 24, &data, false),
            jpeg(40, 24, &data, true),
            webp(40, 24, &data, image_webp::ColorType::Rgb8),
            INTERLACED_PNG.to_vec(),
            LOSSY_WEBP.to_vec(),
            LOSSY_ALPHA_WEBP.to_vec(),
        ]
    }

    fn magic() -> impl Strategy<Value = Vec<u8>> {
        proptest::sample::select(vec![
            b"\x89PNG\r\n\x1a\n".to_vec(),
            vec![0xFF, 0xD8, 0xFF],
            b"RIFF\0\0\0\0WEBPVP8 ".to_vec(),
            b"RIFF\0\0\0\0WEBPVP8L".to_vec(),
            b"RIFF\0\0\0\0WEBPVP8X".to_vec(),
            Vec::new(),
        ])
    }

    fn pixel() -> impl Strategy<Value = [u8; 3]> {
        any::<[u8; 3]>()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_bytes_after_a_magic_number_never_panic(head in magic(), tail in bytes(600)) {
            let file = [head, tail].concat();
            let started = std::time::Instant::now();
            if let Ok(s) = sample(&file) {
                prop_assert!(s.pixels.len() as u64 <= 2 * SAMPLE_TARGET);
            }
            let c = check(&file, &brand(&["#0e7c66"]));
            prop_assert_eq!(c.status == PaletteStatus::Failed, !c.problems.is_empty());
            prop_assert!(started.elapsed().as_secs() < 5);
        }

        #[test]
        fn damaged_real_files_never_panic(
            which in 0usize..7,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
            cut in proptest::option::of(any::<usize>()),
        ) {
            let mut file = valid_files().swap_remove(which);
            for (at, value) in edits {
                let i = at % file.len();
                file[i] = value;
            }
            if let Some(cut) = cut {
                file.truncate(cut % (file.len() + 1));
            }
            let started = std::time::Instant::now();
            let c = check(&file, &brand(&["#0e7c66", "#d11f1f"]));
            prop_assert!(c.colours.len() <= 8);
            prop_assert!(started.elapsed().as_secs() < 5);
        }

        #[test]
        fn dominant_colours_share_out_every_pixel(pixels in proptest::collection::vec(pixel(), 0..400)) {
            let d = dominant_colours(&pixels);
            prop_assert!(d.len() <= MAX_GROUPS);
            prop_assert_eq!(d.is_empty(), pixels.is_empty());
            if !pixels.is_empty() {
                let total: f32 = d.iter().map(|c| c.share).sum();
                prop_assert!((total - 1.0).abs() < 1e-3, "{}", total);
            }
            prop_assert!(d.windows(2).all(|w| w[0].share >= w[1].share));
        }

        #[test]
        fn the_verdict_follows_the_off_brand_share(
            pixels in proptest::collection::vec(pixel(), 1..300),
            brand_colours in proptest::collection::vec(pixel(), 0..4),
        ) {
            let d = dominant_colours(&pixels);
            let c = compare(&d, &brand_colours);
            if brand_colours.is_empty() {
                prop_assert_eq!(c.status, PaletteStatus::NotChecked);
            } else {
                prop_assert!(c.status != PaletteStatus::NotChecked);
                prop_assert_eq!(c.status == PaletteStatus::Failed, !c.problems.is_empty());
                for colour in &c.colours {
                    prop_assert!((0.0..=1.0).contains(&colour.share) && colour.delta_e >= 0.0);
                }
            }
        }

        #[test]
        fn an_image_in_exactly_the_brand_colours_passes(
            brand_colours in proptest::collection::vec(pixel(), 1..4),
            counts in proptest::collection::vec(1usize..50, 4),
        ) {
            let pixels: Vec<[u8; 3]> = brand_colours.iter().zip(&counts).flat_map(|(c, n)| vec![*c; *n]).collect();
            let c = compare(&dominant_colours(&pixels), &brand_colours);
            prop_assert_eq!(c.status, PaletteStatus::Passed, "{:?}", c);
        }
    }
}
