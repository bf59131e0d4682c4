//! The versioned report: what every front end renders.
