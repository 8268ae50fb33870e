"""Visual leak analysis: reference gallery (k-NN), perceptual hashes of known images, scene cues."""
