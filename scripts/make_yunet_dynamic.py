#!/usr/bin/env python3
"""Make the bundled YuNet ONNX take any input size (run once; its output ships in the package).

OpenCV's ``FaceDetectorYN`` resizes the network itself, but the 2023mar file from the OpenCV Zoo
declares a fixed 1x3x640x640 input and fixed output lengths, which onnxruntime enforces. This
rewrites only the declared shapes (input height/width and the outputs' anchor axis become symbolic,
intermediate shape annotations are dropped); no weight or operator changes::

    python scripts/make_yunet_dynamic.py ../shared/models/yunet/face_detection_yunet_2023mar.onnx \\
        pipnet_edge/assets/detectors/yunet/face_detection_yunet_2023mar.onnx
"""

from __future__ import annotations

import hashlib
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    import onnx

    src, dst = argv
    model = onnx.load(src)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in model.graph.output:
        d = out.type.tensor_type.shape.dim
        d[1].dim_param = f"cells_{out.name.split('_')[-1]}"  # (1, cells of that stride, C)
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    for path in (src, dst):
        print(path, hashlib.sha256(open(path, "rb").read()).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
