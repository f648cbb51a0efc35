# Fuzzing (tools/fuzz/README.md), included by the top-level Makefile.
#
#   make fuzz            build the fuzzers, then run each for FUZZ_SECONDS
#   make fuzz-build      build them only
#   make fuzz-regress    run every fuzzer once on its seed corpus and on its
#                        past findings (tools/fuzz/regressions/): a crash,
#                        a leak or undefined behaviour fails
#   make fuzz-run-TARGET run one fuzzer (TARGET: one of FUZZ_TARGETS)
#   make fuzz-coverage   edges of libavcodec/nic*.c that the corpora reach
#                        (seeds, past findings and build/fuzz/corpus/)
#
# Variables:
#   FUZZ_SECONDS=60      per fuzzer, for make fuzz
#   FUZZ_FLAGS=...       more libFuzzer options (e.g. -runs=N)
#
# The fuzzers live in a tree of their own, $(BUILD)/fuzz, configured with
# FFCONFIG=fuzz: clang with libFuzzer, ASan and UBSan (FFmpeg's
# --toolchain=clang-asan-ubsan-fuzz --enable-ossfuzz, as OSS-Fuzz builds
# FFmpeg), nic's decoder and parser and the image_nic_pipe demuxer only.
#
#   dec     FFmpeg's tools/target_dec_fuzzer.c for the nic decoder, with the
#           real models (NIC_MODEL_PATH) and the pixel cap of
#           tools/fuzz/patches/; each input loads its model (0.3 s)
#   dec-tiny the same with the tiny models of tools/fuzz/models/ (the same
#           code, loaded in well under a millisecond)
#   dem     FFmpeg's tools/target_dem_fuzzer.c for image_nic_pipe: the
#           demuxer, the nic parser and stream probing
#   parser  fuzz_nic_parser.c: av_parser_parse2() with chunk sizes drawn
#           from the input; packets must not depend on the chunking
#   model   fuzz_nic_model.c: ff_nic_model_parse() on GGUF files; accepted
#           models then code an image (seeds: tools/fuzz/models/)
#   core    fuzz_nic_core.c: the decoder core with the real models loaded
#           once, any header made to match its model, up to 64x64
#
# Seeds: tools/fuzz/corpus/TARGET/ (tools/fuzz/make_seeds.py writes them);
# past findings: tools/fuzz/regressions/TARGET/.

FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_DIR     := $(ROOT)/tools/fuzz
FUZZ_TARGETS := dec dec-tiny dem parser model core

.PHONY: fuzz-build fuzz-regress fuzz-coverage $(addprefix fuzz-run-,$(FUZZ_TARGETS))

ifneq ($(FFCONFIG),fuzz)

# From any other configuration: the same goals in the fuzz tree.
fuzz fuzz-build fuzz-regress fuzz-coverage $(addprefix fuzz-run-,$(FUZZ_TARGETS)):
	$(MAKE) FFCONFIG=fuzz BUILD=$(BUILDDIR)/fuzz DL=$(DL) $@

else

ifeq ($(wildcard $(FUZZ_DIR)/patches/$(FFMPEG)/*.patch),)
  $(error FFCONFIG=fuzz: no tools/fuzz/patches/ for FFmpeg $(FFMPEG))
endif

FUZZ_CONFIGURE_FLAGS = --prefix=$(CONF_PREFIX) --disable-doc --disable-autodetect \
	--disable-programs --disable-avdevice --disable-avfilter --disable-swscale \
	--disable-swresample --toolchain=clang-asan-ubsan-fuzz --enable-ossfuzz \
	--extra-cflags=-O1 --extra-cflags=-gline-tables-only \
	--disable-everything --enable-openblas --enable-decoder=nic --enable-parser=nic \
	--enable-demuxer=image_nic_pipe

FUZZ_BIN_dec    := $(TREE)/tools/target_dec_nic_fuzzer
FUZZ_BIN_dec-tiny := $(FUZZ_BIN_dec)
FUZZ_BIN_dem    := $(TREE)/tools/target_dem_image_nic_pipe_fuzzer
FUZZ_BIN_parser := $(BUILDDIR)/fuzz_nic_parser
FUZZ_BIN_model  := $(BUILDDIR)/fuzz_nic_model
FUZZ_BIN_core   := $(BUILDDIR)/fuzz_nic_core

# Longest input libFuzzer makes up: the seeds are at most a few KB; a model
# needs room for its tensor table.
FUZZ_MAXLEN_dec    := 16384
FUZZ_MAXLEN_dec-tiny := 16384
FUZZ_MAXLEN_dem    := 16384
FUZZ_MAXLEN_parser := 16384
FUZZ_MAXLEN_model  := 65536
FUZZ_MAXLEN_core   := 4096

# UBSan reports must fail the run; one OpenBLAS thread (the harnesses run
# one input at a time anyway).
FUZZ_ENV = NIC_MODEL_PATH=$(or $(FUZZ_MODELS_$(1)),$(NIC_MODEL_PATH)) \
	OPENBLAS_NUM_THREADS=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
FUZZ_MODELS_dec-tiny := $(FUZZ_DIR)/models

FUZZ_SEEDS = $(if $(filter model,$(1)),$(FUZZ_DIR)/models,$(FUZZ_DIR)/corpus/$(1))

FUZZ_LIBS = $(TREE)/libavformat/libavformat.a $(TREE)/libavcodec/libavcodec.a \
	$(TREE)/libavutil/libavutil.a \
	$$(sed -n 's/^EXTRALIBS-avformat=//p; s/^EXTRALIBS-avcodec=//p; s/^EXTRALIBS-avutil=//p' \
	$(TREE)/ffbuild/config.mak)

$(FUZZ_BIN_dec) $(FUZZ_BIN_dem): ffmpeg
	nice $(MAKE) -C $(TREE) tools/$(notdir $@)

$(BUILDDIR)/fuzz_nic_%: $(FUZZ_DIR)/fuzz_nic_%.c ffmpeg
	nice clang -O1 -gline-tables-only -fsanitize=fuzzer,address,undefined -std=c11 \
		-D_GNU_SOURCE -I$(TREE) $< -o $@ $(FUZZ_LIBS) -lm -lpthread

fuzz-build: $(sort $(foreach t,$(FUZZ_TARGETS),$(FUZZ_BIN_$(t))))

fuzz: $(addprefix fuzz-run-,$(FUZZ_TARGETS))

# New inputs go to $(BUILD)/fuzz/corpus/TARGET, findings to
# $(BUILD)/fuzz/crash-TARGET-*, the log to $(BUILD)/fuzz/TARGET.log.
$(addprefix fuzz-run-,$(FUZZ_TARGETS)): fuzz-run-%: fuzz-build
	mkdir -p $(BUILDDIR)/corpus/$*
	{ $(call FUZZ_ENV,$*) nice $(FUZZ_BIN_$*) -max_total_time=$(FUZZ_SECONDS) \
		-max_len=$(FUZZ_MAXLEN_$*) -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
		-artifact_prefix=$(BUILDDIR)/crash-$*- $(FUZZ_FLAGS) \
		$(BUILDDIR)/corpus/$* $(call FUZZ_SEEDS,$*) 2>&1; echo $$? >$(BUILDDIR)/$*.rc; } | \
		tee $(BUILDDIR)/$*.log
	@exit $$(cat $(BUILDDIR)/$*.rc)

#   $(call fuzz_replay,TARGET): run TARGET once on each input it must survive
define fuzz_replay
	@set -e; for d in $(call FUZZ_SEEDS,$(1)) $(FUZZ_DIR)/regressions/$(1); do \
		[ -d $$d ] || continue; \
		echo "fuzz-regress: $(1) on $${d#$(ROOT)/}"; \
		$(call FUZZ_ENV,$(1)) $(FUZZ_BIN_$(1)) -runs=0 -artifact_prefix=$(BUILDDIR)/regress-$(1)- $$d >$(BUILDDIR)/regress-$(1).log 2>&1 || \
			{ tail -40 $(BUILDDIR)/regress-$(1).log; exit 1; }; \
	done

endef

fuzz-regress: fuzz-build
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_replay,$(t)))

fuzz-coverage: fuzz-build
	NIC_MODEL_PATH=$(NIC_MODEL_PATH) $(FUZZ_DIR)/coverage.sh $(BUILDDIR)/coverage \
		$(foreach t,$(FUZZ_TARGETS),$(t)=$(FUZZ_BIN_$(t))$(if $(FUZZ_MODELS_$(t)),:$(FUZZ_MODELS_$(t))) \
		$(BUILDDIR)/corpus/$(t) $(call FUZZ_SEEDS,$(t)) $(FUZZ_DIR)/regressions/$(t) --)

endif
