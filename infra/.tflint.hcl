# tflint configuration for every root and module under infra/ (suite 20 runs
# `tflint --recursive --config <this file>`).
config {
  # Check module calls too: catches wrong argument types passed between modules.
  call_module_type = "local"
}

# Bundled ruleset with every rule on: typed and described variables/outputs, standard module
# structure (main/variables/outputs/versions), pinned versions, no unused declarations.
plugin "terraform" {
  enabled = true
  preset  = "all"
}

# Installed offline by airgap/iac-tools.sh into TFLINT_PLUGIN_DIR, hence no source/version:
# tflint must not try to download it. Checks instance types, engine versions, etc. against
# the AWS API models.
plugin "aws" {
  enabled = true
}
