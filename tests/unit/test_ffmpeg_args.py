from batchgui.core.ffmpeg import ProgressParser, convert_argv, file_url, parse_clock, stderr_reason
from batchgui.core.models import Quality


def test_argv_is_a_list_with_the_name_as_one_item() -> None:
    evil = 'x"; touch INJECTED; echo ".mp4'
    argv = convert_argv(file_url("/in/" + evil), file_url("/out/o.part"), Quality(), ffmpeg="ff")
    assert argv[0] == "ff"
    assert argv[argv.index("-i") + 1] == "file:/in/" + evil
    assert argv[-1] == "file:/out/o.part"


def test_audio_only_vbr_by_default() -> None:
    argv = convert_argv("in", "out", Quality())
    assert argv[argv.index("-map") + 1] == "0:a:0"
    assert "-vn" in argv
    assert argv[argv.index("-q:a") + 1] == "2"
    assert "-b:a" not in argv
    assert argv[argv.index("-c:a") + 1] == "libmp3lame"
    assert argv[argv.index("-progress") + 1] == "pipe:1"


def test_cbr_when_asked() -> None:
    argv = convert_argv("in", "out", Quality.parse("256k"))
    assert argv[argv.index("-b:a") + 1] == "256k"
    assert "-q:a" not in argv


def test_quality_parse() -> None:
    assert Quality.parse("V0").vbr_level == 0
    assert Quality.parse("v9").vbr_level == 9
    assert Quality.parse("320k").cbr_kbps == 320
    for bad in ("V10", "fast", "1000k"):
        try:
            Quality.parse(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_progress_parser_reads_position_and_end() -> None:
    p = ProgressParser()
    lines = ["frame=0", "out_time_us=N/A", "out_time=N/A", "progress=continue",
             "out_time_us=1500000", "out_time_ms=1500000", "out_time=00:00:01.500000",
             "progress=continue", "out_time_us=3000000", "progress=end"]
    moved = [p.feed(line) for line in lines]
    assert p.seconds == 3.0
    assert p.finished
    assert moved.count(True) == 3  # 1.5 s once, 3.0 s, end


def test_clock() -> None:
    assert parse_clock("01:02:03.500000") == 3723.5
    assert parse_clock("N/A") is None


def test_stderr_reason_takes_last_meaningful_line() -> None:
    tail = "foo\n/in/x.mp4: Some new trouble\nConversion failed!\n"
    assert str(stderr_reason(tail)) == "/in/x.mp4: Some new trouble"
    assert stderr_reason("") is None


def test_stderr_reason_speaks_plainly_about_known_troubles() -> None:
    tail = "[out#0/mp3 @ 0x55] Error closing file: No space left on device\n"
    assert str(stderr_reason(tail)).startswith("the disk with the output folder is full")
