# FATE tests for nic (neural image codec).
#
# Copied to tests/fate/nic.mak by the build (with nic-fate.sh and the
# reference streams into tests/nic/); tests/Makefile includes it
# (patches/<release>/0003-*.patch).  Run with `make fate-nic`; the models
# are taken from NIC_MODEL_PATH (the top-level Makefile sets it to models/),
# else from the directory compiled in.

# PSNR floors and reference streams of the shipped models (tools/make-fate-refs.sh)
-include $(SRC_PATH)/tests/nic/floors.mak

NIC_MODEL_DIR_FATE = $(firstword $(subst :, ,$(NIC_MODEL_PATH)) $(prefix)/share/ffmpeg/nic)
NIC_FATE = $(SRC_PATH)/tests/nic/nic-fate.sh
NIC_ARGS = $(TARGET_PATH) $(SRC_PATH) $(TARGET_PATH)/tests/data/fate

# unit test programs (libavcodec/tests/nic_*.c); they fail by exit status
FATE_NIC_UNIT-$(CONFIG_NIC_DECODER) += fate-nic-rans fate-nic-nn fate-nic-model
fate-nic-rans: libavcodec/tests/nic_rans$(EXESUF)
fate-nic-rans: CMD = run libavcodec/tests/nic_rans$(EXESUF)
fate-nic-nn: libavcodec/tests/nic_nn$(EXESUF)
fate-nic-nn: CMD = run libavcodec/tests/nic_nn$(EXESUF)
fate-nic-model: libavcodec/tests/nic_model$(EXESUF)
fate-nic-model: CMD = run libavcodec/tests/nic_model$(EXESUF) $(NIC_MODEL_DIR_FATE)/hyperprior.gguf
FATE_NIC_UNIT-$(CONFIG_NIC_DECODER) += fate-nic-nn-grad
fate-nic-nn-grad: libavcodec/tests/nic_nn_grad$(EXESUF)
fate-nic-nn-grad: CMD = run libavcodec/tests/nic_nn_grad$(EXESUF) \
                  $(NIC_MODEL_DIR_FATE)/hyperprior.gguf $(NIC_MODEL_DIR_FATE)/factorized.gguf
$(FATE_NIC_UNIT-yes): CMP = null

# round trips of FATE's generated vsynth1 image: model, quality, PSNR floor (dB)
define FATE_NIC_RT
FATE_NIC_CODEC += fate-nic-rt-$(1)-q$(2)
fate-nic-rt-$(1)-q$(2): CMD = $(NIC_FATE) roundtrip $(NIC_ARGS) $(1) $(2) $(3)
endef
$(foreach t,$(NIC_FATE_ROUNDTRIPS),$(eval $(call FATE_NIC_RT,$(word 1,$(subst :, ,$(t))),$(word 2,$(subst :, ,$(t))),$(word 3,$(subst :, ,$(t))))))

# -effort: model, quality, effort, PSNR floor (dB); nic-fate.sh also
# requires the optimized stream to beat effort 0
define FATE_NIC_EFFORT
FATE_NIC_CODEC += fate-nic-effort-$(1)-q$(2)-e$(3)
fate-nic-effort-$(1)-q$(2)-e$(3): CMD = $(NIC_FATE) effort $(NIC_ARGS) $(1) $(2) $(3) $(4)
endef
$(foreach t,$(NIC_FATE_EFFORTS),$(eval $(call FATE_NIC_EFFORT,$(word 1,$(subst :, ,$(t))),$(word 2,$(subst :, ,$(t))),$(word 3,$(subst :, ,$(t))),$(word 4,$(subst :, ,$(t))))))

FATE_NIC_CODEC += fate-nic-gray
fate-nic-gray: CMD = $(NIC_FATE) roundtrip $(NIC_ARGS) hyperprior 4 $(NIC_FLOOR_GRAY) gray

# odd sizes: width, height, PSNR floor
define FATE_NIC_SIZE
FATE_NIC_CODEC += fate-nic-size-$(1)x$(2)
fate-nic-size-$(1)x$(2): CMD = $(NIC_FATE) size $(NIC_ARGS) $(1) $(2) $(3)
endef
$(eval $(call FATE_NIC_SIZE,1,1,0))
$(eval $(call FATE_NIC_SIZE,17,33,$(NIC_FLOOR_SMALL)))
$(eval $(call FATE_NIC_SIZE,1000,3,$(NIC_FLOOR_SMALL)))
$(eval $(call FATE_NIC_SIZE,3,200,$(NIC_FLOOR_SMALL)))

# checked-in streams decode to their reference decode within +-1
FATE_NIC_CODEC += $(addprefix fate-nic-ref-,$(NIC_REF_STREAMS))
$(foreach s,$(NIC_REF_STREAMS),$(eval fate-nic-ref-$(s): CMD = $$(NIC_FATE) refstream $$(NIC_ARGS) $(s)))

FATE_NIC_CODEC += fate-nic-corrupt fate-nic-wrong-model fate-nic-pipe
fate-nic-corrupt: CMD = $(NIC_FATE) corrupt $(NIC_ARGS)
fate-nic-wrong-model: CMD = $(NIC_FATE) wrongmodel $(NIC_ARGS)
fate-nic-pipe: CMD = $(NIC_FATE) pipe $(NIC_ARGS)

FATE_NIC_CODEC += $(addprefix fate-nic-container-,mkv nut avi)
$(foreach f,mkv nut avi,$(eval fate-nic-container-$(f): CMD = $$(NIC_FATE) container $$(NIC_ARGS) $(f)))

FATE_NIC_CODEC-$(call ALLYES, NIC_ENCODER NIC_DECODER NIC_PARSER RAWVIDEO_DEMUXER RAWVIDEO_MUXER \
                  IMAGE2_MUXER IMAGE_NIC_PIPE_DEMUXER MATROSKA_MUXER NUT_MUXER AVI_MUXER \
                  FRAMECRC_MUXER SCALE_FILTER CROP_FILTER FFPROBE) += $(FATE_NIC_CODEC)
$(FATE_NIC_CODEC): ffmpeg$(PROGSSUF)$(EXESUF) ffprobe$(PROGSSUF)$(EXESUF) \
                   tests/tiny_psnr$(HOSTEXESUF) tests/data/vsynth1.yuv
$(FATE_NIC_CODEC): CMP = null

FATE_NIC = $(FATE_NIC_UNIT-yes) $(FATE_NIC_CODEC-yes)
FATE-$(CONFIG_AVCODEC) += $(FATE_NIC)
fate-nic: $(FATE_NIC)
