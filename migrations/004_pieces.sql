-- Piece hashes for Metalink (RFC 5854 <pieces>): the sha-256 of each piece_bytes-long piece of the copy,
-- concatenated (32 bytes each), computed in the same read as the whole file's sha256 and kept with it:
-- cleared whenever the copy changes. Every hash is computed again once so that each file gets its pieces.
ALTER TABLE files ADD COLUMN piece_bytes INTEGER;
ALTER TABLE files ADD COLUMN pieces BLOB;
UPDATE files SET sha256 = NULL;
