"""Stand-in for ``processing_clip.py`` of jinaai/jina-clip-implementation: ``JinaCLIPImageProcessor`` with the
published constructor fields (``size``, ``mean``, ``std``, ``resize_mode``, ``interpolation``, ``fill_color``) and a
``preprocess(images, **kwargs)`` that returns ``BatchFeature(data={"pixel_values": tensor})``. The transform is a
small self-written one (shortest side to ``size``, centre crop, normalise). Written for these tests."""

import numpy as np
import torch
from PIL import Image
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

OPENAI_DATASET_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_DATASET_STD = (0.26862954, 0.26130258, 0.27577711)


class JinaCLIPImageProcessor(BaseImageProcessor):
    model_input_names = ["pixel_values"]

    def __init__(
        self,
        size=24,
        mean=OPENAI_DATASET_MEAN,
        std=OPENAI_DATASET_STD,
        resize_mode="shortest",
        interpolation="bicubic",
        fill_color=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.size = size
        self.mean = list(mean)
        self.std = list(std)
        self.resize_mode = resize_mode
        self.interpolation = interpolation
        self.fill_color = fill_color

    def _pixels(self, image):
        image = image.convert("RGB")
        width, height = image.size
        scale = self.size / min(width, height)
        resized = image.resize((max(self.size, round(width * scale)), max(self.size, round(height * scale))),
                               Image.Resampling.BICUBIC)
        left, top = (resized.width - self.size) // 2, (resized.height - self.size) // 2
        cropped = resized.crop((left, top, left + self.size, top + self.size))
        array = (np.asarray(cropped, dtype=np.float32) / 255.0 - np.array(self.mean, dtype=np.float32)) / np.array(
            self.std, dtype=np.float32
        )
        return torch.from_numpy(array).permute(2, 0, 1).contiguous()

    def preprocess(self, images, **kwargs):
        images = list(images) if isinstance(images, list | tuple) else [images]
        return BatchFeature(data={"pixel_values": torch.stack([self._pixels(image) for image in images])})
