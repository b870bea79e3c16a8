//! Market titles, categories and outcome labels from Polymarket's Gamma API.
