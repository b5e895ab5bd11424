// Reads what mirrorless wrote on a target cluster through MirrorMaker 2's own
// client library (org.apache.kafka:connect-mirror-client), the way a Java
// consumer fails over: args are the target's bootstrap servers, the source
// cluster alias and a consumer group. Prints one fact per line.
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.MirrorClient;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public class Interop {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], source = args[1], group = args[2];
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", bootstrap);
        Map<TopicPartition, OffsetAndMetadata> offsets =
            RemoteClusterUtils.translateOffsets(props, source, group, Duration.ofSeconds(30));
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            System.out.println("offset " + e.getKey().topic() + " " + e.getKey().partition() + " " + e.getValue().offset());
        }
        try (MirrorClient client = new MirrorClient(props)) {
            // The same checkpoints through MirrorClient, which
            // translateOffsets wraps. The 4.1 artifact has no form taking
            // several groups at once.
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e :
                     client.remoteConsumerOffsets(group, source, Duration.ofSeconds(30)).entrySet()) {
                System.out.println("client " + e.getKey().topic() + " " + e.getKey().partition() + " " + e.getValue().offset());
            }
            System.out.println("upstream " + String.join(",", client.upstreamClusters()));
            System.out.println("hops " + client.replicationHops(source));
        }
    }
}
