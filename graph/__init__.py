"""fediscope graph package: analysis of the crawled store into derived tables."""
