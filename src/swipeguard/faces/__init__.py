"""Faces: detect, align, embed, compare.

Coordinates are pixels in the image as decoded (after EXIF orientation), x to the
right and y down, boxes half-open ``[left, right) x [top, bottom)``. Images are
``uint8`` RGB arrays of shape ``(height, width, 3)``. A distance is the Euclidean
distance between two 128-d descriptors: 0 is the same face, and dlib's model was
trained so that distances under about 0.6 are the same person.
"""
