"""Probe a trained network: what each layer computes, what excites a channel, where the network looks.

Every function follows ``runtime``'s device rule (``device=None``: where the model's parameters are; a given device
moves the model there) and takes one image (C, H, W) or a batch (N, C, H, W) of at least one image: uint8 pixels
are made inputs by the model's input contract (``model.input_spec``, from its checkpoint), float inputs are used as
they are. uint8 images as Fashion-MNIST stores them, (N, H, W), are N one-channel images for a one-channel model
(as ``data.to_input`` reads them). A single image gives results without the batch dimension. A target class is an
index or a class name of the model's contract ("Bag"); saliency and Grad-CAM compute their gradients even inside
``torch.no_grad()``. Layers are named by module name ("features.3") or by the paper's
names ("conv2_1", "relu2_1", "pool2", "fc6"); ``models.layer_names`` lists both. Figures: ``plots.feature_maps``.

The methods, with their formulas (c is the target class, y_c its logit, A_k the k-th channel of a layer):

- activations: forward hooks (``capture``) or torchvision's FX ``create_feature_extractor`` (``extract``).
- top-k (Zeiler & Fergus 2014): score image n by max_ij A_k[n, i, j]; its patch is the receptive field of the
  arg-max unit (i, j): the square of side ``rf`` centred at (start + i * jump, start + j * jump)
  (``analysis.layer_table``'s columns, ``receptive``'s recurrence).
- occlusion (Zeiler & Fergus 2014): S(p) = mean over the windows W that cover pixel p of P(c | x) - P(c | x_W),
  where x_W is x with W set to the baseline.
- saliency (Simonyan, Vedaldi & Zisserman 2013): S_ij = max over input channels of |d y_c / d x_ij|.
- Grad-CAM (Selvaraju et al. 2017): alpha_k = mean_ij d y_c / d A_k[i, j];  L = ReLU(sum_k alpha_k A_k).
- embedding: PCA, or t-SNE (van der Maaten & Hinton 2008), of the penultimate features (the last Linear's input).

The modules, one section each:

- ``layers``       layer names (``resolve``, ``relu_layers``), images made inputs (``pixel_input``), hooks
- ``activations``  ``capture``, ``extract``, ``layer_widths``, ``channel_stats``
- ``top_patches``  ``top_k`` and ``receptive_box``: what excites a channel, and the patch its unit sees
- ``attribution``  ``occlusion``, ``saliency``, ``grad_cam``: where the network looks
- ``features``     ``first_layer_filters``, ``penultimate``, ``embed_2d``, ``neighbour_agreement``
"""

from .activations import capture, channel_stats, extract, layer_widths
from .attribution import default_cam_layer, grad_cam, occlusion, saliency
from .features import embed_2d, first_layer_filters, neighbour_agreement, penultimate
from .layers import pixel_input, relu_layers, resolve
from .top_patches import TopK, receptive_box, top_k

__all__ = [
    "resolve",
    "relu_layers",
    "pixel_input",
    "capture",
    "extract",
    "layer_widths",
    "channel_stats",
    "TopK",
    "receptive_box",
    "top_k",
    "occlusion",
    "saliency",
    "default_cam_layer",
    "grad_cam",
    "first_layer_filters",
    "penultimate",
    "embed_2d",
    "neighbour_agreement",
]
