// One Elasticsearch node for the local stack, via codelibs' ElasticsearchClusterRunner.
//
// The runner's own main() cannot be used as is: it forces http.port to baseHttpPort + 1 and gives
// up on ports above 9299, and settings passed on its command line always win over elasticsearch.yml.
// This launcher loads <base>/config/elasticsearch.yml (written by the Python service) into the
// runner's settings builder, so that file alone decides ports, paths, discovery and watermarks.
// Usage: java -cp <jars>:<this> SteamEsLauncher <base-dir>
// SIGTERM closes the node (shutdown hook) and the JVM exits; a failed start exits with status 1.

import java.nio.file.Path;
import java.nio.file.Paths;

import org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;

public final class SteamEsLauncher {
    public static void main(final String[] args) throws Exception {
        final Path base = Paths.get(args[0]).toAbsolutePath();
        final Path config = base.resolve("config");
        final Settings settings = Settings.builder().loadFromPath(config.resolve("elasticsearch.yml")).build();

        LogConfigurator.setNodeName(settings.get("node.name")); // for %node_name in log lines

        final ElasticsearchClusterRunner runner = new ElasticsearchClusterRunner();
        runner.setMaxHttpPort(-1); // take http.port from the settings; no probing, no 9299 ceiling
        runner.onBuild((index, builder) -> builder.put(settings));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                System.err.println("closing the node failed: " + e);
            }
        }));
        try {
            runner.build("-basePath", base.toString(), "-confPath", config.toString(),
                    "-dataPath", settings.get("path.data"), "-logsPath", settings.get("path.logs"),
                    "-clusterName", settings.get("cluster.name"), "-numOfNode", "1", "-printOnFailure",
                    // Only for the runner's banner ("HTTP Port: ..."); http.port itself comes from the file.
                    "-baseHttpPort", String.valueOf(Integer.parseInt(settings.get("http.port")) - 1));
        } catch (final Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
