"""Readers for other tools' exports: each module reads one family of files into
:class:`~phaseout.ingest.formats.record.SourceRecord` values; ``registry`` recognises a file's
format from its content; ``catalogue`` lists every format."""
