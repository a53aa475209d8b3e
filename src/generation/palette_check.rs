//! The palette check (B3): a generated image against its brand's colours, with the
//! colours that broke it when it fails.
//!
//! 1. **Sample** the image (`library::pixels`: PNG, JPEG or WebP, at most about 16 000
//!    pixels on a grid, images over the pixel budget refused from their header).
//! 2. **Dominant colours**: the sampled pixels go into 4096 bins (4 bits per sRGB
//!    channel); the bins, largest first, are grouped in OKLab: a bin joins the first
//!    group of its kind (neutral or not) whose centre is within [`MERGE_RADIUS`], else it
//!    starts one (at most [`MAX_GROUPS`]; then it joins the nearest). A group's colour is
//!    the mean of its pixels and its share the part of the opaque pixels it holds.
//! 3. **Compare**: colour difference is ΔE in OKLab with the lightness difference
//!    halved, so lighter and darker shades of a brand colour stay close to it
//!    (`√((ΔL/2)² + Δa² + Δb²)`, shown ×100). Then:
//!    - a colour whose OKLab chroma is under [`NEUTRAL_CHROMA`] is *neutral* (white,
//!      grey, black, faint tints) and never breaks the palette;
//!    - a colour within [`MATCH_DELTA_E`] of some brand colour is *on brand*;
//!    - any other colour with at least [`MIN_SHARE`] of the image is *off brand*;
//!      smaller ones are noise (edges, highlights) and are not judged;
//!    - the check **passes when off-brand colours cover at most
//!      [`MAX_OFF_BRAND_SHARE`] of the image**, and fails naming each off-brand colour
//!      (hex, share, nearest brand colour and its ΔE).
//!    A brand without colours, or an image that cannot be sampled, is *not checked*.

use crate::library::brands::{self, Color};
use crate::library::pixels::{self, SampleError};
use serde::{Deserialize, Serialize};

/// OKLab chroma under which a colour counts as neutral.
pub const NEUTRAL_CHROMA: f32 = 0.035;
/// The largest ΔE (OKLab, lightness halved) at which a colour matches a brand colour.
pub const MATCH_DELTA_E: f32 = 0.10;
/// The share of the image under which a colour is not judged.
pub const MIN_SHARE: f32 = 0.01;
/// The largest share of the image off-brand colours may cover in a passing image.
pub const MAX_OFF_BRAND_SHARE: f32 = 0.15;
/// Bins closer than this (ΔE) to a group's centre join it.
pub const MERGE_RADIUS: f32 = 0.05;
pub const MAX_GROUPS: usize = 32;
/// How many colours a check reports.
const REPORTED: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaletteStatus {
    Passed,
    Failed,
    NotChecked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColourKind {
    OnBrand,
    OffBrand,
    Neutral,
}

/// One dominant colour of the image, as the check judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaletteColour {
    pub hex: String,
    /// Part of the image's opaque pixels, 0–1 (three decimals).
    pub share: f64,
    pub kind: ColourKind,
    /// The nearest brand colour and its ΔE (×100, one decimal).
    pub nearest: String,
    pub delta_e: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaletteCheck {
    pub status: PaletteStatus,
    /// Why it failed, one line per off-brand colour; empty otherwise.
    pub problems: Vec<String>,
    /// The largest dominant colours (at most 8), largest first.
    pub colours: Vec<PaletteColour>,
    /// Why it was not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PaletteCheck {
    fn not_checked(note: &str) -> Self {
        PaletteCheck { status: PaletteStatus::NotChecked, problems: Vec::new(), colours: Vec::new(), note: Some(note.to_owned()) }
    }
}

// ---- colour -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lab {
    pub l: f32,
    pub a: f32,
    pub b: f32,
}

impl Lab {
    pub fn chroma(self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }
}

fn srgb_to_linear(c: f32) -> f32 {
    let c = c / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// sRGB (0–255 per channel, may be fractional) to OKLab (Björn Ottosson's matrices).
pub fn oklab(rgb: [f32; 3]) -> Lab {
    let [r, g, b] = rgb.map(srgb_to_linear);
    let l = (0.412_221_46 * r + 0.536_332_55 * g + 0.051_445_995 * b).cbrt();
    let m = (0.211_903_5 * r + 0.680_699_5 * g + 0.107_396_96 * b).cbrt();
    let s = (0.088_302_46 * r + 0.281_718_85 * g + 0.629_978_7 * b).cbrt();
    Lab {
        l: 0.210_454_26 * l + 0.793_617_8 * m - 0.004_072_047 * s,
        a: 1.977_998_5 * l - 2.428_592_2 * m + 0.450_593_7 * s,
        b: 0.025_904_037 * l + 0.782_771_77 * m - 0.808_675_77 * s,
    }
}

/// ΔE in OKLab with the lightness difference halved (see the module's notes).
pub fn delta_e(x: Lab, y: Lab) -> f32 {
    let dl = (x.l - y.l) / 2.0;
    let (da, db) = (x.a - y.a, x.b - y.b);
    (dl * dl + da * da + db * db).sqrt()
}

pub fn hex(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

/// `#rrggbb` (or `#rgb`) to bytes.
pub fn parse_rgb(hex: &str) -> Option<[u8; 3]> {
    let h = brands::parse_hex(hex)?;
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some([byte(1)?, byte(3)?, byte(5)?])
}

// ---- dominant colours ----------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Dominant {
    /// The mean sRGB of its pixels.
    pub rgb: [u8; 3],
    pub lab: Lab,
    /// Part of all the pixels given, 0–1.
    pub share: f32,
}

struct Group {
    rgb_sum: [f64; 3],
    lab_sum: [f64; 3],
    count: u64,
    neutral: bool,
}

impl Group {
    fn centre(&self) -> Lab {
        let n = self.count as f64;
        Lab { l: (self.lab_sum[0] / n) as f32, a: (self.lab_sum[1] / n) as f32, b: (self.lab_sum[2] / n) as f32 }
    }
}

/// The image's dominant colours (see the module's notes), largest first; their shares
/// add up to 1 (none for no pixels).
pub fn dominant_colours(pixels: &[[u8; 3]]) -> Vec<Dominant> {
    if pixels.is_empty() {
        return Vec::new();
    }
    let mut counts = vec![0u64; 4096];
    let mut sums = vec![[0u64; 3]; 4096];
    for p in pixels {
        let bin = (p[0] as usize >> 4) << 8 | (p[1] as usize >> 4) << 4 | p[2] as usize >> 4;
        counts[bin] += 1;
        for c in 0..3 {
            sums[bin][c] += p[c] as u64;
        }
    }
    let mut bins: Vec<usize> = (0..4096).filter(|&i| counts[i] > 0).collect();
    bins.sort_by(|&x, &y| counts[y].cmp(&counts[x]).then(x.cmp(&y)));
    let mut groups: Vec<Group> = Vec::new();
    for bin in bins {
        let n = counts[bin];
        let mean = sums[bin].map(|s| s as f32 / n as f32);
        let lab = oklab(mean);
        let neutral = lab.chroma() < NEUTRAL_CHROMA;
        let nearest = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.neutral == neutral)
            .map(|(i, g)| (i, delta_e(g.centre(), lab)))
            .min_by(|x, y| x.1.total_cmp(&y.1));
        let i = match nearest {
            Some((i, d)) if d <= MERGE_RADIUS => i,
            _ if groups.len() < MAX_GROUPS => {
                groups.push(Group { rgb_sum: [0.0; 3], lab_sum: [0.0; 3], count: 0, neutral });
                groups.len() - 1
            }
            Some((i, _)) => i,
            // No room, and every group is of the other kind: the nearest of any kind.
            None => (0..groups.len())
                .min_by(|&x, &y| delta_e(groups[x].centre(), lab).total_cmp(&delta_e(groups[y].centre(), lab)))
                .unwrap_or(0),
        };
        let g = &mut groups[i];
        for c in 0..3 {
            g.rgb_sum[c] += sums[bin][c] as f64;
        }
        g.lab_sum[0] += lab.l as f64 * n as f64;
        g.lab_sum[1] += lab.a as f64 * n as f64;
        g.lab_sum[2] += lab.b as f64 * n as f64;
        g.count += n;
    }
    let total = pixels.len() as f32;
    let mut out: Vec<Dominant> = groups
        .iter()
        .map(|g| {
            let rgb = g.rgb_sum.map(|s| (s / g.count as f64).round().clamp(0.0, 255.0) as u8);
            Dominant { rgb, lab: g.centre(), share: g.count as f32 / total }
        })
        .collect();
    out.sort_by(|x, y| y.share.total_cmp(&x.share).then(x.rgb.cmp(&y.rgb)));
    out
}

// ---- comparison -------------------------------------------------------------------------------

fn percent(share: f32) -> String {
    let p = (share * 100.0).round();
    if p < 1.0 {
        "under 1%".into()
    } else {
        format!("{p}%")
    }
}

/// Judges dominant colours against brand colours (sRGB); see the module's notes.
pub fn compare(dominant: &[Dominant], brand: &[[u8; 3]]) -> PaletteCheck {
    if brand.is_empty() {
        return PaletteCheck::not_checked("The brand has no colours to check against.");
    }
    if dominant.is_empty() {
        return PaletteCheck::not_checked("The image has no opaque pixels to check.");
    }
    let brand: Vec<([u8; 3], Lab)> = brand.iter().map(|&c| (c, oklab(c.map(f32::from)))).collect();
    let mut judged = Vec::new();
    let mut off_share = 0.0f32;
    for d in dominant.iter().filter(|d| d.share >= MIN_SHARE) {
        let (nearest, de) = brand
            .iter()
            .map(|(rgb, lab)| (*rgb, delta_e(*lab, d.lab)))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("brand is not empty");
        let kind = if d.lab.chroma() < NEUTRAL_CHROMA {
            ColourKind::Neutral
        } else if de <= MATCH_DELTA_E {
            ColourKind::OnBrand
        } else {
            off_share += d.share;
            ColourKind::OffBrand
        };
        judged.push((d, kind, nearest, de));
    }
    let passed = off_share <= MAX_OFF_BRAND_SHARE;
    let problems = if passed {
        Vec::new()
    } else {
        judged
            .iter()
            .filter(|j| j.1 == ColourKind::OffBrand)
            .take(REPORTED)
            .map(|(d, _, nearest, de)| {
                format!(
                    "Off-brand colour {} covers {} of the image (nearest brand colour {}, ΔE {:.1}).",
                    hex(d.rgb),
                    percent(d.share),
                    hex(*nearest),
                    de * 100.0
                )
            })
            .collect()
    };
    let colours = judged
        .iter()
        .take(REPORTED)
        .map(|(d, kind, nearest, de)| PaletteColour {
            hex: hex(d.rgb),
            share: (d.share as f64 * 1000.0).round() / 1000.0,
            kind: *kind,
            nearest: hex(*nearest),
            delta_e: (*de as f64 * 1000.0).round() / 10.0,
        })
        .collect();
    PaletteCheck { status: if passed { PaletteStatus::Passed } else { PaletteStatus::Failed }, problems, colours, note: None }
}

/// The whole check: decode a sample of `image`, find its dominant colours, compare them
/// with the brand's colours.
pub fn check(image: &[u8], brand_colours: &[Color]) -> PaletteCheck {
    let brand: Vec<[u8; 3]> = brand_colours.iter().filter_map(|c| parse_rgb(&c.hex)).collect();
    if brand.is_empty() {
        return PaletteCheck::not_checked("The brand has no colours to check against.");
    }
    match pixels::sample(image) {
        Ok(sample) => compare(&dominant_colours(&sample.pixels), &brand),
        Err(SampleError::Unsupported) => PaletteCheck::not_checked("Only PNG, JPEG and WebP images are checked."),
        Err(SampleError::TooLarge { width, height }) => {
            PaletteCheck::not_checked(&format!("The image is too large to check its colours ({width} × {height} pixels)."))
        }
        Err(SampleError::Unreadable) => PaletteCheck::not_checked("The image could not be read to check its colours."),
    }
}

#[cfg(test)]
#[path = "palette_check_tests.rs"]
mod tests;
