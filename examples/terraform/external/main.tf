# Hand-off 1: Terraform asks imagelock for one pin at plan time, through the `external` data
# source. imagelock reads the committed lockfile only (no network, no credentials) and fails the
# plan if the pin is stale against the spec, so a plan always deploys the reviewed image.
#
#   cd examples/terraform/external && terraform init && terraform plan
#
# `imagelock` must be on PATH (cargo install --path .). Paths in `query` are relative to the
# directory Terraform runs the program in; `path.module` keeps them independent of it.

terraform {
  required_providers {
    external = {
      source  = "hashicorp/external"
      version = "~> 2.3"
    }
  }
}

locals {
  spec = "${path.module}/../../imagelock.yaml"
}

# `web` is pinned in two regions, so each data source names one.
data "external" "web_cn_bj2" {
  program = ["imagelock", "terraform-external"]
  query = {
    name   = "web"
    region = "cn-bj2"
    spec   = local.spec
  }
}

data "external" "web_hk" {
  program = ["imagelock", "terraform-external"]
  query = {
    name   = "web"
    region = "hk"
    spec   = local.spec
  }
}

# A single-region entry needs no region. `lock` may point at a lockfile elsewhere.
data "external" "rocky" {
  program = ["imagelock", "terraform-external"]
  query = {
    name = "rocky"
    spec = local.spec
    lock = "${path.module}/../../imagelock.lock"
  }
}

# Every value of `result` is a string: image_id, image_name, os_name, create_time, region.
output "web_images" {
  value = {
    "cn-bj2" = data.external.web_cn_bj2.result.image_id
    "hk"     = data.external.web_hk.result.image_id
  }
}

output "rocky_image" {
  value = "${data.external.rocky.result.image_id} (${data.external.rocky.result.image_name})"
}

# With the UCloud provider, a host uses the pin like this:
#
# resource "ucloud_instance" "web" {
#   availability_zone = "cn-bj2-02"
#   instance_type     = "n-basic-2"
#   image_id          = data.external.web_cn_bj2.result.image_id
# }
