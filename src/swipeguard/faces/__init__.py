"""Faces: detect, align, embed, compare.

Coordinates are pixels in the image as decoded (after EXIF orientation), x to the
right and y down, boxes half-open ``[left, right) x [top, bottom)``. Images are
``uint8`` RGB arrays of shape ``(height, width, 3)``. A distance is the Euclidean
distance between two 128-d descriptors, each scaled to one common length (1.43, the
median length of dlib's own): 0 is the same face, and as with dlib's raw vectors,
distances under about 0.6 are the same person (the measured default is
``verification.threshold``).
"""
