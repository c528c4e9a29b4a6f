"""The netns lab: nodes, a wire, pods and real CNI ADD/DEL, all named from one lab_id."""
