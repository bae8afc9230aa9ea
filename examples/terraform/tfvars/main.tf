# Hand-off 2: pins as a Terraform variable. Before `terraform plan`, write the variable file:
#
#   imagelock -f ../../imagelock.yaml export --format tfvars-json > images.auto.tfvars.json
#
# Terraform loads *.auto.tfvars.json automatically. `imagelock export` exits 3 and writes nothing
# to stdout when the lockfile is stale, so with `set -o pipefail` (or `&&`) a stale lock stops the
# pipeline before Terraform runs. No provider is needed to read the map: `terraform init && terraform plan`.

# entry name → region → pinned ImageId, exactly the shape `export --format tfvars-json` writes.
variable "imagelock_images" {
  type        = map(map(string))
  description = "Pinned UCloud ImageIds from `imagelock export --format tfvars-json`."
}

locals {
  web_cn_bj2 = var.imagelock_images["web"]["cn-bj2"]
}

output "web_cn_bj2" {
  value = local.web_cn_bj2
}

output "every_pin" {
  value = var.imagelock_images
}

# With the UCloud provider, one host per region of an entry:
#
# resource "ucloud_instance" "web" {
#   for_each          = var.imagelock_images["web"]
#   availability_zone = "${each.key}-02"
#   instance_type     = "n-basic-2"
#   image_id          = each.value
# }
