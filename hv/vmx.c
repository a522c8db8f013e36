/* The Intel VMX backend of the vCPU interface (hv/vcpu.h): not written yet. */
#include "hv/hv.h"

static const char *vmx_probe(void)
{
	return "the VMX backend is not implemented yet";
}

const struct vcpu_ops vmx_ops = {
	.name = "vmx",
	.probe = vmx_probe,
};
