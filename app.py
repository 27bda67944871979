"""The emo-pillars app as a Gradio Space: ``python app.py`` (or a Space with the Gradio SDK) runs it unchanged.

Settings come from the environment:

* ``EMO_PILLARS_MODEL``: the model to try, a folder or a Hub id (default: the paper's context-less release);
* ``EMO_PILLARS_DATASET``: the generated dataset the Evaluate tab offers (a folder or a Hub id; optional);
* ``EMO_PILLARS_ANNOTATIONS``: where annotations are saved (default: ``annotations``);
* gradio's own ``GRADIO_SERVER_NAME`` and ``GRADIO_SERVER_PORT`` (a Space sets them).

A model that cannot be loaded (offline, say) does not stop the Space: the Try tab says why in one line.
"""

import os

from emo_pillars.app import DEFAULT_ANNOTATIONS_DIR, DEFAULT_MODEL, build_app

demo = build_app(
    model=os.environ.get("EMO_PILLARS_MODEL") or DEFAULT_MODEL,
    dataset=os.environ.get("EMO_PILLARS_DATASET") or None,
    annotations_dir=os.environ.get("EMO_PILLARS_ANNOTATIONS") or DEFAULT_ANNOTATIONS_DIR,
    fail_fast=False,
)

if __name__ == "__main__":
    demo.launch(share=False, ssr_mode=False, mcp_server=False)
