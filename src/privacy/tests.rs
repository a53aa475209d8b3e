//! Native tests of closure and retention.
