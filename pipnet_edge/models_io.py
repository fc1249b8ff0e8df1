"""Names shared by the torch models and the torch-free runtime (the artifact I/O contract)."""

INPUT_NAME = "image"
HEAD_NAMES = ("score", "offset_x", "offset_y", "nb_x", "nb_y")
