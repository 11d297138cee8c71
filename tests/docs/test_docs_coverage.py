"""Every section of the README as it was before the documentation site has a home in the site.

`readme_headings.txt` holds the README's `##` and `###` headings, in order, as they were when the site was made
(generated once: `git show HEAD:README.md | awk '/^```/{f=!f; next} !f && /^###? /'`). A heading is at home when
a page has a heading with the same text; a section that was renamed or split is listed in HOMES with the page and
heading it went to (a `###` heading is keyed `PARENT > CHILD`, since some repeat under several parents).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.docs_pages import DOCS, headings, page_name, pages

HEADINGS_FILE = Path(__file__).with_name("readme_headings.txt")

SAGEMAKER = "AWS SageMaker (real-time, serverless and async endpoints, batch transform)"
AZURE = "Azure ML (managed online endpoint)"
VERTEX = "Google Cloud Vertex AI"
HOMES = {
    "API": ("api/index.md", "API overview"),
    "Container image (SageMaker, Azure ML, local Docker)": ("reference/container.md", "Container image"),
    SAGEMAKER: ("guides/sagemaker/index.md", "AWS SageMaker"),
    f"{SAGEMAKER} > Prerequisites": ("guides/sagemaker/index.md", "Prerequisites"),
    f"{SAGEMAKER} > Deploy, status, invoke, delete": ("guides/sagemaker/realtime.md", "Deploy"),
    f"{SAGEMAKER} > Tests": ("guides/sagemaker/index.md", "Tests"),
    f"{AZURE} > Prerequisites": ("guides/azureml.md", "Prerequisites"),
    f"{AZURE} > 1. Deploy": ("guides/azureml.md", "Deploy"),
    f"{AZURE} > 2. Autoscale": ("guides/azureml.md", "Scale"),
    f"{AZURE} > 3. Invoke (key or Entra ID)": ("guides/azureml.md", "Invoke"),
    f"{AZURE} > 4. Update": ("guides/azureml.md", "Update"),
    f"{AZURE} > 5. Delete": ("guides/azureml.md", "Delete"),
    f"{VERTEX} > Vertex AI: build and push to Artifact Registry": ("guides/vertexai.md", "Build and push"),
    f"{VERTEX} > Vertex AI: the container contract": ("guides/vertexai.md", "The container contract"),
    f"{VERTEX} > Vertex AI: config file": ("guides/vertexai.md", "The config file"),
    f"{VERTEX} > Vertex AI: plan and deploy": ("guides/vertexai.md", "Plan and deploy"),
    f"{VERTEX} > Vertex AI: invoke": ("guides/vertexai.md", "Invoke"),
    f"{VERTEX} > Vertex AI: scale": ("guides/vertexai.md", "Scale"),
    f"{VERTEX} > Vertex AI: update (blue/green)": ("guides/vertexai.md", "Update"),
    f"{VERTEX} > Vertex AI: delete": ("guides/vertexai.md", "Delete"),
    f"{VERTEX} > Vertex AI: costs and quotas": ("guides/vertexai.md", "Costs and quotas"),
    "Batch Transform and AWS Marketplace": (
        "guides/marketplace/seller.md", "AWS Marketplace: selling the model package"),
    "Batch Transform and AWS Marketplace > Batch Transform in the container": (
        "api/formats.md", "Batch Transform in the container"),
    "Kubernetes > Check and scale": ("guides/kubernetes.md", "Scale"),
    "Kubernetes > Tests": ("guides/kubernetes.md", "Tests"),
    "Kubernetes > Install": ("guides/kubernetes.md", "Install"),
}  # fmt: skip


def readme_sections() -> list[tuple[str, str]]:
    """(key, heading text) for each line of readme_headings.txt; a `###` key names its `##` parent."""
    sections, parent = [], ""
    for line in HEADINGS_FILE.read_text(encoding="utf-8").splitlines():
        level, _, text = line.partition(" ")
        assert level in ("##", "###") and text, f"not a ## or ### heading: {line!r}"
        if level == "##":
            parent = text
            sections.append((text, text))
        else:
            sections.append((f"{parent} > {text}", text))
    return sections


SECTIONS = readme_sections()
PAGE_HEADINGS = {page_name(path): headings(path) for path in pages()}


def test_the_heading_list_is_the_readme_of_before_the_site():
    assert len(SECTIONS) >= 90
    assert ("Quick start", "Quick start") in SECTIONS
    keys = [key for key, _ in SECTIONS]
    assert len(keys) == len(set(keys)), "two README sections share a key"
    assert not set(HOMES) - set(keys), f"HOMES names sections the README did not have: {set(HOMES) - set(keys)}"


@pytest.mark.parametrize(("key", "text"), SECTIONS, ids=[key for key, _ in SECTIONS])
def test_readme_section_has_a_home_in_the_site(key: str, text: str):
    if key in HOMES:
        page, heading = HOMES[key]
        assert (DOCS / page).is_file(), f"{key}: {page} does not exist"
        assert heading in PAGE_HEADINGS[page], f"{key}: {page} has no heading {heading!r}"
    else:
        homes = [page for page, texts in PAGE_HEADINGS.items() if text in texts]
        assert homes, f"README section {key!r} has no page heading {text!r}; add one or map it in HOMES"


def test_every_page_is_in_the_navigation():
    import yaml

    class Loader(yaml.SafeLoader):  # mkdocs.yml names Python objects (!!python/name:...): read them as None
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    config = yaml.load((DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)

    def walk(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [page for item in node for page in walk(item)]
        if isinstance(node, dict):
            return [page for value in node.values() for page in walk(value)]
        return []

    assert sorted(walk(config["nav"])) == sorted(PAGE_HEADINGS)


GUIDE_SECTIONS = [
    "Prerequisites", "Build and push", "Deploy", "Invoke", "Scale", "Update", "Delete", "Costs and quotas",
    "Troubleshooting",
]  # fmt: skip
GUIDES = [
    "guides/sagemaker/realtime.md", "guides/sagemaker/serverless.md", "guides/sagemaker/async.md",
    "guides/sagemaker/batch-transform.md", "guides/marketplace/seller.md", "guides/marketplace/buyer.md",
    "guides/azureml.md", "guides/vertexai.md", "guides/docker.md", "guides/kubernetes.md",
]  # fmt: skip


@pytest.mark.parametrize("guide", GUIDES)
def test_platform_guide_has_the_same_sections_in_the_same_order(guide: str):
    lines, fenced = [], False
    for line in (DOCS / guide).read_text(encoding="utf-8").splitlines():
        fenced ^= line.lstrip().startswith("```")
        lines += [line] if not fenced else []
    sections = [line[3:].strip() for line in lines if line.startswith("## ")]
    assert sections == GUIDE_SECTIONS, f"{guide}: ## sections are {sections}"
