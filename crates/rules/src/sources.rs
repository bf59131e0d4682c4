//! Public sources of the rules (shared/reference/oci-image-rules.md). Oracle moves pages;
//! keep each URL next to the rules that cite it so a reader can re-check them.

pub const BYOI: &str =
    "https://docs.oracle.com/en-us/iaas/Content/Compute/References/bringyourownimage.htm";
pub const IMPORT_LINUX: &str =
    "https://docs.oracle.com/en-us/iaas/Content/Compute/Tasks/importingcustomimagelinux.htm";
pub const MARKETPLACE_IMAGES: &str =
    "https://docs.oracle.com/en-us/iaas/Content/Marketplace/app-publisher-guidelines-images.htm";
pub const IMAGES: &str = "https://docs.oracle.com/en-us/iaas/Content/Compute/References/images.htm";
