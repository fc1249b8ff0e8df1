"""Adapters to peer projects, optional extras of the benchmarks (``bash benchmarks/peers/get_peers.sh``).

* :mod:`benchmarks.peers.landmarkers`: dlib's 68-point ERT and MediaPipe FaceMesh on ground-truth boxes (the
  ``artifacts`` suite);
* :mod:`benchmarks.peers.pipelines`: their whole-photo pipelines (the ``end_to_end`` suite).
"""
