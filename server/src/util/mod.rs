pub mod collate;
pub mod glob;
pub mod num;
pub mod repr;
