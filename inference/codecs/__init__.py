"""Wire codecs shared by every endpoint kind: JSON, content negotiation, record bodies, images."""
