//! B5, a brand from its website: which addresses may be fetched (`policy`), what a page
//! and its CSS say about the brand (`extract`, `css`, pure and property-tested), and the
//! import itself over the ports (`import`): fetch, parse, ask the text model, store the
//! logo as an upload, charge once. Nothing is saved as a brand: the editor does that.

pub mod css;
pub mod extract;
pub mod import;
pub mod policy;
