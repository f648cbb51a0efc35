# nic (neural image codec): object lists for libavcodec/Makefile.
# Copied to libavcodec/nic.mak by the build; libavcodec/Makefile includes
# it (patches/<release>/0001-*.patch).  FFmpeg sorts and de-duplicates OBJS.

NIC_CORE_OBJS = nic_codec.o nic_hyper.o nic_exec.o nic_model.o nic_sha256.o nic_nn.o \
                nic_entropy.o nic_rans.o nic_bitstream.o nic_optimize.o nic_nn_grad.o \
                nic_winograd.o
OBJS-$(CONFIG_NIC_DECODER) += nicdec.o $(NIC_CORE_OBJS)
OBJS-$(CONFIG_NIC_ENCODER) += nicenc.o $(NIC_CORE_OBJS)
OBJS-$(CONFIG_NIC_PARSER)  += nic_parser.o nic_bitstream.o

# unit tests: libavcodec/tests/nic_*.c (from libavcodec_nic/tests/)
TESTPROGS-$(CONFIG_NIC_DECODER) += nic_rans nic_nn nic_model nic_nn_grad
