// nasctl: the command-line client of nas.v1.SearchService.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <string>

#include "common/client/channel.h"
#include "common/env_defaults.h"
#include "nasctl/args.h"
#include "nasctl/commands.h"

namespace {

struct Command {
  std::function<int(nas::cli::Context&, const nas::cli::Args&)> run;
  const char* usage;
  const char* help;
};

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"submit",
       {nas::cli::Submit, "submit SPEC.yaml [--watch]",
        "Validate a search spec (YAML) and start the search; --watch follows "
        "it."}},
      {"watch",
       {nas::cli::Watch, "watch SEARCH_ID",
        "Follow a search live: trials, epochs, a progress bar, best so far."}},
      {"searches",
       {nas::cli::Searches, "searches [--limit N] [--all]",
        "List searches, newest first; --all includes archived ones."}},
      {"trials",
       {nas::cli::Trials, "trials SEARCH_ID [--state STATE]",
        "List a search's trials with their metrics."}},
      {"best",
       {nas::cli::Best, "best SEARCH_ID [-k N]",
        "Show the best feasible trials: by the objective, or the Pareto front "
        "when the search has several."}},
      {"cancel",
       {nas::cli::Cancel, "cancel SEARCH_ID",
        "Cancel a running search; its unfinished trials are stopped."}},
      {"extend",
       {nas::cli::Extend, "extend SEARCH --max_trials N",
        "Raise a search's max_trials; a completed (or failed) search runs "
        "again and its strategy builds on every earlier trial. SEARCH is "
        "an id or a unique name."}},
      {"delete",
       {nas::cli::Delete, "delete SEARCH [--force]",
        "Delete a search with its trials and metrics, for good. A running "
        "search needs --force, which cancels it first. SEARCH is an id or a "
        "unique name."}},
      {"archive",
       {nas::cli::Archive, "archive SEARCH",
        "Hide a finished search from `nasctl searches` (--all shows it); "
        "its trials stay. SEARCH is an id or a unique name."}},
      {"unarchive",
       {nas::cli::Unarchive, "unarchive SEARCH",
        "Show an archived search in `nasctl searches` again. SEARCH is an "
        "id or a unique name."}},
      {"enqueue",
       {nas::cli::Enqueue,
        "enqueue SEARCH ARCH... | enqueue SEARCH --file FILE",
        "Add architectures to a running search as pending trials, run "
        "before its strategy's next proposals (warm starts). ARCH is "
        "the space's text, quoted (nb201: '|nor_conv_3x3~0|+|...|'; "
        "chain: 'stage1.depth=2 stage1.width=32 stage1.layer1.op=conv3x3 "
        "...'), or option indexes like 3,0,1,2,0,4. --file: one per "
        "line, # comments; - reads standard input. SEARCH is an id or a "
        "unique name."}},
  };
  return *commands;
}

void PrintHelp(std::ostream& out) {
  out << "nasctl: submit and follow neural architecture searches.\n\n"
         "usage: nasctl [--controller HOST:PORT] [-o table|json] COMMAND "
         "[ARGS]\n\ncommands:\n";
  for (const auto& [name, command] : Commands()) {
    out << "  " << command.usage << "\n      " << command.help << "\n";
  }
  out << "\noptions:\n"
         "  --controller HOST:PORT  controller address (env NAS_CONTROLLER, "
         "default 127.0.0.1:50051)\n"
         "  -o, --output FORMAT     table (default) or json\n"
         "  --tls_ca FILE           PEM CA that verifies the controller "
         "(env NAS_TLS_CA;\n"
         "                          default: the system's roots)\n"
         "  --tls_cert FILE         client certificate for mutual TLS (env "
         "NAS_CLIENT_TLS_CERT)\n"
         "  --tls_key FILE          its key (env NAS_CLIENT_TLS_KEY)\n"
         "  --token_file FILE       file holding your token (env "
         "NAS_TOKEN_FILE; else\n"
         "                          the token itself from env NAS_TOKEN)\n"
         "  --plaintext             connect without TLS (env "
         "NAS_PLAINTEXT=true)\n"
         "  -h, --help              help for nasctl or a command\n";
}

}  // namespace

int main(int argc, char** argv) {
  auto args = nas::cli::ParseArgs(
      argc, argv,
      {"controller", "output", "state", "k", "limit", "tls_ca", "tls_cert",
       "tls_key", "token_file", "max_trials", "file"},
      {"watch", "plaintext", "force", "all"});
  if (!args.ok()) {
    std::cerr << args.status().message() << "\n";
    return 2;
  }
  if (args->command.empty() || args->command == "help") {
    PrintHelp(args->help || args->command == "help" ? std::cout : std::cerr);
    return args->help || args->command == "help" ? 0 : 2;
  }
  auto it = Commands().find(args->command);
  if (it == Commands().end()) {
    std::cerr << "unknown command \"" << args->command << "\"; see nasctl --help\n";
    return 2;
  }
  if (args->help) {
    std::cout << "usage: nasctl " << it->second.usage << "\n\n"
              << it->second.help << "\n";
    return 0;
  }
  const std::string output = args->Get("output").value_or("table");
  if (output != "table" && output != "json") {
    std::cerr << "-o: expected table or json, got \"" << output << "\"\n";
    return 2;
  }
  const std::string target =
      args->Get("controller")
          .value_or(nas::EnvOr("NAS_CONTROLLER", "127.0.0.1:50051"));
  nas::client::ChannelSecurity security;
  const std::string plaintext_env = nas::EnvOr("NAS_PLAINTEXT", "");
  security.plaintext = args->Get("plaintext").has_value() ||
                       plaintext_env == "1" || plaintext_env == "true";
  security.tls_ca = args->Get("tls_ca").value_or(nas::EnvOr("NAS_TLS_CA", ""));
  security.tls_cert =
      args->Get("tls_cert").value_or(nas::EnvOr("NAS_CLIENT_TLS_CERT", ""));
  security.tls_key =
      args->Get("tls_key").value_or(nas::EnvOr("NAS_CLIENT_TLS_KEY", ""));
  absl::StatusOr<std::string> token = nas::client::LoadToken(
      args->Get("token_file").value_or(nas::EnvOr("NAS_TOKEN_FILE", "")));
  if (!token.ok()) {
    std::cerr << token.status().message() << "\n";
    return 2;
  }
  security.token = *std::move(token);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      nas::client::MakeChannel(target, security);
  if (!channel.ok()) {
    std::cerr << channel.status().message() << "\n";
    return 2;
  }

  nas::cli::Context ctx;
  ctx.stub = nas::v1::SearchService::NewStub(*std::move(channel));
  ctx.json = output == "json";
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  return it->second.run(ctx, *args);
}
