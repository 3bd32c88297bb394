"""What a stored vector means (:class:`FeatureKey`) and the feature sets read back from the store."""

from deepfeat_iqa.features._sets import ConcatKey, FeatureKey, FeatureSet, LayerFeatures, key_from_dict

__all__ = ["ConcatKey", "FeatureKey", "FeatureSet", "LayerFeatures", "key_from_dict"]
