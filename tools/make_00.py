from nb import make_notebook

make_notebook("notebooks/00_start_here.ipynb", "Start here: is everything ready?", [
    ("md", """
This short notebook checks that the course package works on your machine, tells you which device you will
compute on, and shows the first thing the course measures: VGG-16, layer by layer.

Run it from top to bottom (*Run > Run All Cells*)."""),
    ("code", """
import torch
import vgg_edu
from vgg_edu import analysis, models, runtime

device = runtime.get_device()
print(f"vgg_edu {vgg_edu.__version__}, PyTorch {torch.__version__}, computing on {runtime.device_name(device)}")
print("fast mode (CI):", runtime.fast_mode())"""),
    ("md", """
## VGG-16, layer by layer

`analysis.layer_table` runs one 224 x 224 image through the network and records, for every layer, its output
shape, its parameters, its multiply-accumulates (MACs), its output size and its receptive field. We build the
model on PyTorch's *meta* device: shapes without weights, so even a 138-million-parameter network costs nothing."""),
    ("code", """
with torch.device("meta"):
    vgg16 = models.vgg16()
table = analysis.layer_table(vgg16)
table[table["type"].str.startswith(("Conv", "MaxPool", "Linear"))]"""),
    ("code", """
t = analysis.totals(table)
print(f"parameters: {t['params']:,}   MACs per image: {t['macs'] / 1e9:.2f} G   "
      f"activations per image: {t['activations'] / 1e6:.1f} M values")"""),
    ("md", "Next: `01_receptive_fields.ipynb`."),
])
