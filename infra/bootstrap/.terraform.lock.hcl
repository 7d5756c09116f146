# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/hashicorp/aws" {
  version     = "6.48.0"
  constraints = "~> 6.0"
  hashes = [
    "h1:qXqENkvP856c/BM5uxGE0kYHzpMxyKwzc/a/eJuYfYw=",
  ]
}
