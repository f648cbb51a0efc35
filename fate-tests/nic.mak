# FATE tests for nic (neural image codec).
# Copied to tests/fate/nic.mak by the build; tests/Makefile includes it
# (patches/<release>/0003-*.patch).  Run with `make fate-nic`.

# unit test programs (libavcodec/tests/nic_*.c), they print nothing to compare
FATE_NIC_UNIT-$(CONFIG_NIC_DECODER) += fate-nic-rans
fate-nic-rans: libavcodec/tests/nic_rans$(EXESUF)
fate-nic-rans: CMD = run libavcodec/tests/nic_rans$(EXESUF)
fate-nic-rans: CMP = null

FATE_NIC += $(FATE_NIC_UNIT-yes)

FATE-$(CONFIG_AVCODEC) += $(FATE_NIC)
fate-nic: $(FATE_NIC)
