"""Wire codecs: request bodies in, response bodies out."""
