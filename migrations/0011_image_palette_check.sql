-- B3: the palette check of a generated image (JSON, like brand_check for text).
ALTER TABLE generation_jobs ADD COLUMN palette_check TEXT;
UPDATE schema_version SET version = 11;
