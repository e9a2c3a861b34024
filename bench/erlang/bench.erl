%% bench/erlang/bench.erl — the Erlang side of bench/suites/actors.py: the same workloads as
%% bench/lua/{spawn_idle,pingpong_actors,ring,spawn_exit}.lua, with the same output lines.
%% Run with Debian's erlang-base:
%%   escript bench/erlang/bench.erl spawn N        "BASE", spawn N idle processes, RESULT, "HOLD"
%%   escript bench/erlang/bench.erl pingpong R     R round trips between two processes
%%   escript bench/erlang/bench.erl ring N HOPS    a ring of N processes passing a token HOPS times
%%   escript bench/erlang/bench.erl exec N         spawn_monitor + 'DOWN', N times in sequence
-module(bench).
-mode(compile).
-export([main/1]).

now_us() -> erlang:monotonic_time(microsecond).

idle() -> receive stop -> ok end.

spawn_idle(N) ->
    io:format("BASE~n"),
    timer:sleep(300),
    T0 = now_us(),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    T1 = now_us(),
    io:format("RESULT actors=~p seconds=~.6f us_per_spawn=~.3f~n",
              [N, (T1 - T0) / 1.0e6, (T1 - T0) / N]),
    io:format("HOLD~n"),
    timer:sleep(600000),
    [P ! stop || P <- Pids],
    ok.

pong() -> receive {ping, From, I} -> From ! {pong, I}, pong(); stop -> ok end.

ping(_, 0) -> ok;
ping(P, I) -> P ! {ping, self(), I}, receive {pong, I} -> ping(P, I - 1) end.

pingpong(Rounds) ->
    P = spawn(fun pong/0),
    T0 = now_us(),
    ping(P, Rounds),
    T1 = now_us(),
    P ! stop,
    io:format("RESULT rtts=~p seconds=~.6f~n", [Rounds, (T1 - T0) / 1.0e6]).

%% The token carries the hops left; every send takes one off (as in bench/lua/ring.lua).
ring_node(Next) -> receive {t, Left} -> Next ! {t, Left - 1}, ring_node(Next) end.

ring_root(Next, Hops, T0) ->
    receive
        {t, Left} when Left =< 0 ->
            {Hops - Left, now_us() - T0};
        {t, Left} ->
            Next ! {t, Left - 1},
            ring_root(Next, Hops, T0)
    end.

ring(N, Hops) ->
    First = lists:foldl(fun(_, Nxt) -> spawn(fun() -> ring_node(Nxt) end) end, self(),
                        lists:seq(1, N - 1)),
    T0 = now_us(),
    First ! {t, Hops - 1},
    {Done, El} = ring_root(First, Hops, T0),
    io:format("RESULT actors=~p hops=~p seconds=~.6f~n", [N, Done, El / 1.0e6]).

exec(N) ->
    T0 = now_us(),
    lists:foreach(fun(_) ->
                          {_, Ref} = spawn_monitor(fun() -> ok end),
                          receive {'DOWN', Ref, process, _, _} -> ok end
                  end, lists:seq(1, N)),
    T1 = now_us(),
    io:format("RESULT n=~p exec_us=~.3f~n", [N, (T1 - T0) / N]).

main(["spawn", N]) -> spawn_idle(list_to_integer(N));
main(["pingpong", R]) -> pingpong(list_to_integer(R));
main(["ring", N, H]) -> ring(list_to_integer(N), list_to_integer(H));
main(["exec", N]) -> exec(list_to_integer(N));
main(_) ->
    io:format(standard_error, "usage: bench.erl spawn N | pingpong R | ring N HOPS | exec N~n", []),
    halt(2).
