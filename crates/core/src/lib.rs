//! Inspection: from a byte source to a report, through every layer.
